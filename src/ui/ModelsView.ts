import * as vscode from "vscode";
import type { ModelSummary } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { listInstalledModels } from "../models/installedModels.js";
import { bundledModelPath, modelPaths } from "../settings/vscodeSettings.js";
import { modelItem, type ModelItem } from "./modelItems.js";

/** The Models view (a TreeView in the TaH side bar): every installed model, refreshed when models or settings change. */
export class ModelsView implements vscode.TreeDataProvider<ModelItem>, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<undefined>();
    readonly onDidChangeTreeData = this.changed.event;
    private loaded: readonly ModelSummary[] = [];
    /** The last listing, for the tests and the commands that act on "the model at this path". */
    items: readonly ModelItem[] = [];

    constructor(private readonly modelsDir: string, private readonly log: vscode.LogOutputChannel) {}

    refresh(): void {
        this.changed.fire(undefined);
    }

    engineStateChanged(state: EngineState): void {
        this.loaded = state.kind === "ready" ? [state.model, state.completionModel] : [];
        this.refresh();
    }

    async getChildren(element?: ModelItem): Promise<ModelItem[]> {
        if (element !== undefined)
            return [];
        const paths = modelPaths();
        const roles = { chat: paths?.chat, completion: paths === undefined ? undefined : paths.completion ?? paths.chat };
        const others = [paths?.chat, paths?.completion ?? undefined, bundledModelPath()].filter((other): other is string => other !== undefined);
        try {
            const items = (await listInstalledModels(this.modelsDir, others)).map((model) => modelItem(model, roles, this.loaded));
            this.items = items;
            return items;
        } catch (error) {
            this.log.warn(`listing the models in ${this.modelsDir} failed: ${(error as Error).message}`);
            return [];
        }
    }

    getTreeItem(item: ModelItem): vscode.TreeItem {
        const tree = new vscode.TreeItem(item.label, vscode.TreeItemCollapsibleState.None);
        tree.id = item.model.path;
        tree.description = item.description;
        tree.tooltip = item.tooltip;
        tree.contextValue = item.contextValue;
        tree.iconPath = new vscode.ThemeIcon(item.icon);
        tree.resourceUri = vscode.Uri.file(item.model.path);
        return tree;
    }

    dispose(): void {
        this.changed.dispose();
    }
}
