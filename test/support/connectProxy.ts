/** An HTTP proxy on loopback that tunnels CONNECT requests, as HTTPS_PROXY points to, and records their targets. */
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";

export interface ConnectProxy {
    /** http://127.0.0.1:port */
    readonly url: string;
    /** host:port of every tunnel, in order, and the Proxy-Authorization each came with. */
    readonly tunnels: { readonly target: string; readonly proxyAuthorization: string | undefined }[];
    close(): Promise<void>;
}

export async function startConnectProxy(): Promise<ConnectProxy> {
    const tunnels: { target: string; proxyAuthorization: string | undefined }[] = [];
    const sockets = new Set<net.Socket>();
    const server = http.createServer((_request, response) => {
        response.writeHead(405);
        response.end();
    });
    server.on("connect", (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        const target = request.url ?? "";
        tunnels.push({ target, proxyAuthorization: request.headers["proxy-authorization"] });
        const [host, port] = target.split(":");
        const upstream = net.connect(Number(port), host, () => {
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
            upstream.write(head);
            upstream.pipe(client);
            client.pipe(upstream);
        });
        for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.on("close", () => sockets.delete(socket));
            socket.on("error", () => {
                client.destroy();
                upstream.destroy();
            });
        }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        tunnels,
        async close() {
            for (const socket of sockets)
                socket.destroy();
            server.close();
            await once(server, "close");
        },
    };
}
