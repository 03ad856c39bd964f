// Model answers as Markdown, made safe twice: markdown-it with raw HTML off (tags stay text) and only safe link
// schemes, then DOMPurify over its output with an allow-list of the tags Markdown produces (defense in depth).
import createDOMPurify, { type WindowLike } from "dompurify";
import MarkdownIt from "markdown-it";

const allowedTags = [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
    "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
// class: markdown-it's "language-…" on code blocks; data-line: where a code block starts (for Insert).
const allowedAttributes = ["href", "title", "class", "start", "data-line"];
const safeUrl = /^(?:https?:|mailto:|#)/i;

export type MarkdownRenderer = (text: string) => DocumentFragment;

/** A renderer for one window (the webview's, or a test's DOM). */
export function createMarkdownRenderer(window: WindowLike): MarkdownRenderer {
    const purify = createDOMPurify(window);
    const markdown = new MarkdownIt({ html: false, linkify: true, typographer: false });
    // remote images cannot load under the CSP anyway, and a model has no business showing any
    markdown.disable("image");
    markdown.validateLink = (url) => safeUrl.test(url.trim());
    // each code block carries the answer line its code starts on, so the host can find the tokens that wrote it
    markdown.core.ruler.push("tah_code_lines", (state) => {
        for (const token of state.tokens) {
            if ((token.type === "fence" || token.type === "code_block") && token.map !== null)
                token.attrSet("data-line", String(token.type === "fence" ? token.map[0] + 1 : token.map[0]));
        }
    });
    return (text) => purify.sanitize(markdown.render(text), {
        ALLOWED_TAGS: allowedTags,
        ALLOWED_ATTR: allowedAttributes,
        ALLOW_DATA_ATTR: false,
        ALLOWED_URI_REGEXP: safeUrl,
        // attributes off this list have their values checked as URLs
        ADD_URI_SAFE_ATTR: ["start", "data-line"],
        RETURN_DOM_FRAGMENT: true,
    });
}
