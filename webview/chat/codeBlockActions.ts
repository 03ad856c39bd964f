// Copy and Insert buttons on the code blocks of a rendered answer.
import { createButton } from "../shared/components.js";

export interface CodeBlockActions {
    copy(code: string): void;
    /** `line`: the answer line the code starts on (from the block's data-line). */
    insert(code: string, line: number): void;
}

/** A block's code as written in the answer: its last line break is the fence's, not the code's. */
export function blockCode(code: Element): string {
    const text = code.textContent ?? "";
    return text.endsWith("\n") ? text.slice(0, -1) : text;
}

function button(document: Document, label: string, title: string, onClick: () => void): HTMLElement {
    const element = createButton(document, label, { title, secondary: true });
    element.addEventListener("click", onClick);
    return element;
}

/** Wraps each code block in `root` with a toolbar: its language, Copy, and Insert at cursor. */
export function decorateCodeBlocks(root: ParentNode & Node, actions: CodeBlockActions): void {
    const document = root.ownerDocument ?? (root as Document);
    for (const pre of Array.from(root.querySelectorAll("pre"))) {
        const code = pre.querySelector("code");
        if (code === null)
            continue;
        // without a line the host still inserts, and finds the tokens only if the code is unambiguous
        const line = Math.max(0, Number.parseInt(code.getAttribute("data-line") ?? pre.getAttribute("data-line") ?? "0", 10) || 0);
        const language = /(?:^|\s)language-(\S+)/.exec(code.className)?.[1] ?? "";
        const block = document.createElement("div");
        block.className = "code-block";
        const toolbar = document.createElement("div");
        toolbar.className = "code-toolbar";
        const label = document.createElement("span");
        label.className = "code-language";
        label.textContent = language;
        const copy = button(document, "Copy", "Copy the code", () => {
            actions.copy(blockCode(code));
            copy.textContent = "Copied";
            setTimeout(() => { copy.textContent = "Copy"; }, 1500);
        });
        const insert = button(document, "Insert", "Insert the code at the cursor of the editor", () => actions.insert(blockCode(code), line));
        toolbar.append(label, copy, insert);
        pre.replaceWith(block);
        block.append(toolbar, pre);
    }
}
