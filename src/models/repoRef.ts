/** `owner/name[@revision]`, as `tah pull` and the "Another Hugging Face repository…" entry take it. */

export interface RepoRef {
    readonly repo: string;
    /** A branch, tag or commit; default "main", as the hub's own tools default. */
    readonly revision: string;
}

// The hub's repository names: letters, digits, `-`, `_`, `.`, no `--` or `..`, not starting or ending with `-`/`.`.
const namePart = /^(?!.*(--|\.\.))[A-Za-z0-9][A-Za-z0-9._-]{0,95}(?<![.-])$/;

export function parseRepoRef(text: string): RepoRef {
    const at = text.indexOf("@");
    const repo = at < 0 ? text : text.slice(0, at);
    const revision = at < 0 ? "main" : text.slice(at + 1);
    const parts = repo.split("/");
    if (parts.length !== 2 || !parts.every((part) => namePart.test(part)))
        throw new Error(`"${repo}" is not a Hugging Face repository id (owner/name)`);
    if (revision.length === 0)
        throw new Error(`give a revision after "@" in "${text}", or leave out the "@"`);
    return { repo, revision };
}
