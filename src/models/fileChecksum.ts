/** The checksums the hub reports: sha256 for LFS files, the git blob id (sha1 of a "blob" header + content) otherwise. */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { RepoFile } from "./HubClient.js";

export interface ExpectedChecksum {
    readonly algorithm: "sha256" | "git-sha1";
    readonly value: string;
}

export function expectedChecksum(file: RepoFile): ExpectedChecksum | undefined {
    if (file.sha256 !== undefined)
        return { algorithm: "sha256", value: file.sha256 };
    if (file.gitBlobId !== undefined)
        return { algorithm: "git-sha1", value: file.gitBlobId };
    return undefined;
}

export async function fileChecksum(filePath: string, algorithm: ExpectedChecksum["algorithm"], size: number): Promise<string> {
    let hash: Hash;
    if (algorithm === "sha256") {
        hash = createHash("sha256");
    } else {
        hash = createHash("sha1");
        hash.update(`blob ${size}\0`);
    }
    for await (const chunk of createReadStream(filePath))
        hash.update(chunk as Buffer);
    return hash.digest("hex");
}
