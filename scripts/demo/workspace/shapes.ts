// A small file to try TaH Copilot on: put the cursor at the end of a line and wait for ghost text, hover the text
// it wrote, or run "TaH: Show Difficulty of This File" from the command palette.

export interface Point {
    x: number;
    y: number;
}

export function distance(a: Point, b: Point): number {
    const dx = a.x - b.x;
    const dy = a.y - b.y;
    return Math.sqrt(dx * dx + dy * dy);
}

export function perimeter(points: Point[]): number {
    let total = 0;
    for (let i = 0; i < points.length; i++) {
        total += distance(points[i], points[(i + 1) % points.length]);
    }
    return total;
}

export function centroid(points: Point[]): Point {
    
}
