/**
 * The engine protocol over HTTP, between the extension (src/engineClient/RemoteEngineClient.ts) and `tah serve`
 * (src/server/engineRoute.ts): `POST /tah/engine/<method>` with the method's params as the JSON body; the answer
 * is NDJSON, one line per event, a heartbeat line while the engine is silent, and one last result or error line.
 * Closing the connection cancels the request.
 */
import type { EngineErrorInfo } from "./EngineError.js";
import type { EngineEvent, EngineMethod } from "./engineProtocol.js";

/** What a remote extension may call: everything but load (the server serves its own model) and convert (local files). */
export const remoteEngineMethods = ["complete", "chat", "analyze", "tokenCount", "status"] as const satisfies readonly EngineMethod[];

export type RemoteEngineMethod = (typeof remoteEngineMethods)[number];

export const remoteEnginePath = "/tah/engine/";

/** A line is written at least this often, so a client tells a slow answer from a lost server. */
export const remoteHeartbeatMs = 5000;

export type RemoteEngineLine =
    | { event: EngineEvent }
    | { result: unknown }
    | { error: EngineErrorInfo }
    | { alive: true };
