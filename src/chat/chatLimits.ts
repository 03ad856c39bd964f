// Size limits of the chat, shared by the extension host and the webview (so this file imports nothing).

/** The most characters one typed message may have. */
export const maxUserTextChars = 32_000;
/** The most characters of an attached selection or file. */
export const maxAttachmentChars = 100_000;
/** The most characters of a code block to copy or insert (a long answer's block stays well below). */
export const maxCodeChars = 200_000;
/** The most characters of a message id. */
export const maxIdChars = 64;
/** Assistant messages whose tokens (with their candidates) are kept for the token view and code insertion. */
export const tokenMessagesKept = 8;
/** The stored conversation: the oldest messages go first beyond either bound. */
export const maxStoredMessages = 200;
export const maxStoredChars = 1_000_000;
/** The most characters of conversation sent with one request; the engine then fits it to its context window. */
export const maxPromptChars = 400_000;
