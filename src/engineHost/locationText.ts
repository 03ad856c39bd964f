// The status bar's words for where the engine runs (pure, so tests can check them).
import type { EngineLocation } from "./EngineConnection.js";

/** Nothing for the local engine; the remote's host and round trip otherwise. */
export function locationText(location: EngineLocation): { text: string; tooltip: string } | undefined {
    if (location.kind === "local")
        return undefined;
    const rtt = location.rttMs === null ? "" : ` ${Math.round(location.rttMs)} ms`;
    return {
        text: `$(remote) ${location.host}${rtt}`,
        tooltip: `The engine runs on ${location.url} (tah serve)${location.rttMs === null ? "" : `, round trip ${Math.round(location.rttMs)} ms`}.`
    };
}
