/**
 * An SVG chart: decode speed relative to plain llama.cpp on the same shape against the share of tokens that went
 * deeper, one series per generation (TaH v1 and TaH2 on their own shapes), with the limit 1/(1+share) of a second
 * pass that costs as much as the first.
 */
export interface ChartPoint {
    share: number;
    tps: number;
    low: number;
    high: number;
}

export interface ChartSeries {
    label: string;
    color: string;
    /** The plain llama.cpp decode speed of this series' shape, in tokens/s: its points are drawn relative to it. */
    baselineTps: number;
    points: readonly ChartPoint[];
}

function escape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

export function decodeChart(series: readonly ChartSeries[], title: string): string {
    const width = 640;
    const height = 400;
    const margin = { left: 70, right: 190, top: 40, bottom: 50 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const maxRatio = Math.max(1, ...series.flatMap((entry) => entry.points.map((point) => point.high / entry.baselineTps))) * 1.1;
    const x = (share: number): number => margin.left + share * plotWidth;
    const y = (ratio: number): number => margin.top + plotHeight - (ratio / maxRatio) * plotHeight;

    const limit: string[] = [];
    for (let i = 0; i <= 50; i++) {
        const share = i / 50;
        limit.push(`${i === 0 ? "M" : "L"}${x(share).toFixed(1)},${y(1 / (1 + share)).toFixed(1)}`);
    }
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) =>
        `<line x1="${x(share)}" y1="${y(0)}" x2="${x(share)}" y2="${y(0) + 5}" stroke="#444"/><text x="${x(share)}" y="${y(0) + 20}" text-anchor="middle">${share * 100}%</text>`);
    const yTicks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => {
        const ratio = maxRatio * fraction;
        return `<line x1="${margin.left - 5}" y1="${y(ratio)}" x2="${margin.left}" y2="${y(ratio)}" stroke="#444"/><text x="${margin.left - 8}" y="${y(ratio) + 4}" text-anchor="end">${ratio.toFixed(2)}</text>`;
    });
    const dots = series.flatMap((entry) => entry.points.map((point) =>
        `<line x1="${x(point.share)}" y1="${y(point.low / entry.baselineTps)}" x2="${x(point.share)}" y2="${y(point.high / entry.baselineTps)}" stroke="${entry.color}"/>` +
        `<circle cx="${x(point.share)}" cy="${y(point.tps / entry.baselineTps)}" r="5" fill="${entry.color}"/>`));
    const legendX = width - margin.right + 15;
    const legend = series.map((entry, i) =>
        `<circle cx="${legendX + 12}" cy="${margin.top + 50 + 20 * i}" r="5" fill="${entry.color}"/><text x="${legendX + 30}" y="${margin.top + 54 + 20 * i}">${escape(entry.label)} (${entry.baselineTps.toFixed(1)} t/s plain)</text>`);
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>
<line x1="${margin.left}" y1="${y(0)}" x2="${margin.left + plotWidth}" y2="${y(0)}" stroke="#444"/>
<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${y(0)}" stroke="#444"/>
${ticks.join("\n")}
${yTicks.join("\n")}
<text x="${margin.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">share of tokens that went deeper</text>
<text x="18" y="${margin.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 18 ${margin.top + plotHeight / 2})">decode speed / plain llama.cpp</text>
<line x1="${x(0)}" y1="${y(1)}" x2="${x(1)}" y2="${y(1)}" stroke="#2c3e50" stroke-dasharray="6,4"/>
<path d="${limit.join(" ")}" fill="none" stroke="#7f8c8d" stroke-width="1.5"/>
${dots.join("\n")}
<line x1="${legendX}" y1="${margin.top + 10}" x2="${legendX + 25}" y2="${margin.top + 10}" stroke="#2c3e50" stroke-dasharray="6,4"/><text x="${legendX + 30}" y="${margin.top + 14}">plain llama.cpp (prebuilt)</text>
<line x1="${legendX}" y1="${margin.top + 30}" x2="${legendX + 25}" y2="${margin.top + 30}" stroke="#7f8c8d" stroke-width="1.5"/><text x="${legendX + 30}" y="${margin.top + 34}">limit 1/(1+share)</text>
${legend.join("\n")}
</svg>
`;
}
