// A tiny TaH model whose output is fixed in advance, for tests of what the UI does with model output: its layers
// are zero (each position's hidden state is its token's embedding), chain tokens get one-hot embeddings, and each
// token's output row points at its successor's, so greedy (and low-temperature) decoding follows the chain.
// Its threshold is 1, so nothing iterates and the final logits are the depth-0 ones.
import { createTinyTah, writeTinyTahFolder, type TinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";

/** What the scripted model answers in a chat, over and over: a classic XSS payload, which must render as text. */
export const scriptedAnswer = "<svg/onload=alert(1)>";

const successorLogit = 10;

/** Successor of each chain token: after the chat prompt's last token ("\n") the payload starts, then repeats. */
function chain(): Map<number, number> {
    const payload = tokenize(scriptedAnswer);
    const newline = tokenize("\n")[0];
    if (new Set([newline, ...payload]).size !== payload.length + 1)
        throw new Error("the scripted answer must consist of distinct tokens, none of them a newline");
    const successor = new Map<number, number>([[newline, payload[0]]]);
    payload.forEach((token, i) => successor.set(token, payload[(i + 1) % payload.length]));
    return successor;
}

/** The scripted model's weights (also served as a checkpoint by the Models UI test's fake hub). */
export function scriptedTinyTah(name = "tiny-scripted"): TinyTah {
    const tiny = createTinyTah({ seed: 21, tiedEmbeddings: false, threshold: 1, normNoise: 0, name });
    const { model } = tiny;
    const { nEmbd } = model.config;
    for (const layer of model.layers) {
        for (const weights of [layer.wq, layer.wk, layer.wv, layer.wo, layer.wGate, layer.wUp, layer.wDown])
            weights.fill(0);
    }
    const successor = chain();
    const tokens = [...new Set([...successor.keys(), ...successor.values()])];
    if (tokens.length > nEmbd)
        throw new Error("more chain tokens than embedding dimensions");
    const dimension = new Map(tokens.map((token, i) => [token, i]));
    for (const token of tokens) {
        const row = model.tokenEmbd.subarray(token * nEmbd, (token + 1) * nEmbd);
        row.fill(0);
        row[dimension.get(token)!] = 1;
    }
    const output = model.output!;
    for (let i = 0; i < output.length; i++)
        output[i] = output[i] * 0.01;
    for (const [from, to] of successor)
        output[to * nEmbd + dimension.get(from)!] += successorLogit;
    return tiny;
}

export async function writeScriptedModel(folder: string): Promise<string> {
    await writeTinyTahFolder(folder, scriptedTinyTah());
    return folder;
}
