// Text for token details: model pieces with their whitespace made visible, probabilities as percentages.

export function percent(value: number): string {
    return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
}

const visible: Record<string, string> = { " ": "·", "\n": "↵", "\r": "␍", "\t": "⇥" };

/** A token's piece as a tooltip shows it: spaces and line breaks visible, an empty piece as "∅". */
export function visiblePiece(piece: string): string {
    return piece === "" ? "∅" : piece.replace(/[ \n\r\t]/g, (character) => visible[character] ?? character);
}
