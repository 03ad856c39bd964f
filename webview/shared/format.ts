// Text for token details: model pieces with their whitespace made visible.

const visible: Record<string, string> = { " ": "·", "\n": "↵", "\r": "␍", "\t": "⇥" };

/** A token's piece as a tooltip shows it: spaces and line breaks visible, an empty piece as "∅". */
export function visiblePiece(piece: string): string {
    return piece === "" ? "∅" : piece.replace(/[ \n\r\t]/g, (character) => visible[character] ?? character);
}
