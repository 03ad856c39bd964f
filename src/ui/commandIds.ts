// Command ids in one place, shared by the extension, the menu and the tests that compare them with package.json.
export const commandIds = {
    showMenu: "tah.showMenu",
    openChat: "tah.openChat",
    selectModel: "tah.selectModel",
    toggleInlineCompletions: "tah.toggleInlineCompletions",
    showLogs: "tah.showLogs",
    restartEngine: "tah.restartEngine",
    showDifficulty: "tah.showDifficulty",
    toggleHeatmap: "tah.toggleHeatmap",
    showCompletionPreview: "tah.showCompletionPreview",
    convertCheckpoint: "tah.convertCheckpoint",
    setEngineToken: "tah.setEngineToken",
    getModel: "tah.getModel",
    setHubToken: "tah.setHubToken",
    clearHubToken: "tah.clearHubToken",
    refreshModels: "tah.models.refresh",
    useForChat: "tah.models.useForChat",
    useForCompletion: "tah.models.useForCompletion",
    convertAgain: "tah.models.convertAgain",
    revealModel: "tah.models.reveal",
    deleteModel: "tah.models.delete",
    resumeDownload: "tah.models.resumeDownload"
} as const;

/** The chat webview view's id (package.json `contributes.views.tah`). */
export const chatViewId = "tah.chat";

/** The Models tree view's id (package.json `contributes.views.tah`). */
export const modelsViewId = "tah.models";
