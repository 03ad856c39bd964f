// The one module of the webviews that knows the UI toolkit (@vscode/webview-ui-toolkit, archived upstream in
// January 2025): the pages build their controls with these functions, so replacing the toolkit (for example with
// @vscode-elements/elements) changes this file only. Every control gets a name a screen reader can read.

/**
 * Defines the custom elements, once per page; controls made before are upgraded then, so their properties (value,
 * checked) are set only after this resolves. Loaded on demand: the toolkit needs a browser document to load at all,
 * and the factories below must also run in the unit tests' jsdom.
 */
export async function registerComponents(): Promise<void> {
    const { provideVSCodeDesignSystem, vsCodeButton, vsCodeCheckbox, vsCodeProgressRing, vsCodeTextArea } = await import("@vscode/webview-ui-toolkit");
    provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeCheckbox(), vsCodeProgressRing(), vsCodeTextArea());
}

interface ControlOptions {
    readonly id?: string;
    readonly className?: string;
    /** Shown on hover and read after the name. */
    readonly title?: string;
}

function control(document: Document, tag: string, options: ControlOptions): HTMLElement {
    const element = document.createElement(tag);
    if (options.id !== undefined)
        element.id = options.id;
    if (options.className !== undefined)
        element.className = options.className;
    if (options.title !== undefined)
        element.title = options.title;
    return element;
}

/** A button: focusable, Enter and Space press it; its label is its accessible name. */
export function createButton(document: Document, label: string, options: ControlOptions & { readonly secondary?: boolean } = {}): HTMLElement {
    const button = control(document, "vscode-button", options);
    if (options.secondary === true)
        button.setAttribute("appearance", "secondary");
    button.textContent = label;
    return button;
}

export interface CheckboxElement extends HTMLElement {
    checked: boolean;
}

/** A checkbox with its label; Space toggles it and it fires "change". */
export function createCheckbox(document: Document, label: string, options: ControlOptions = {}): CheckboxElement {
    const checkbox = control(document, "vscode-checkbox", options) as CheckboxElement;
    checkbox.textContent = label;
    return checkbox;
}

export interface TextAreaElement extends HTMLElement {
    value: string;
}

/** A multi-line text field; `label` names it for screen readers (the placeholder is no name). */
export function createTextArea(document: Document, label: string, options: ControlOptions & { readonly placeholder: string; readonly rows: number }): TextAreaElement {
    const area = control(document, "vscode-text-area", options) as TextAreaElement;
    area.setAttribute("aria-label", label);
    area.setAttribute("placeholder", options.placeholder);
    area.setAttribute("rows", String(options.rows));
    area.setAttribute("resize", "vertical");
    return area;
}

/** A spinner for work in progress, named for screen readers. */
export function createProgressRing(document: Document, label: string, options: ControlOptions = {}): HTMLElement {
    const ring = control(document, "vscode-progress-ring", options);
    ring.setAttribute("aria-label", label);
    return ring;
}
