// Command ids in one place, shared by the extension, the menu and the tests that compare them with package.json.
export const commandIds = {
    showMenu: "tah.showMenu",
    openChat: "tah.openChat",
    showLogs: "tah.showLogs",
} as const;

/** The chat webview view's id (package.json `contributes.views.tah`). */
export const chatViewId = "tah.chat";
