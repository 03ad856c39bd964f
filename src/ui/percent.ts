// One way to show a share as a percentage everywhere (status bar, hover, chat, webviews): a decimal below 10 %.
export function percent(value: number): string {
    return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
}
