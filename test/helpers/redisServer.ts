// A real, throwaway redis-server for tests: no persistence, a free port on 127.0.0.1, and
// stop (SIGTERM) / kill (SIGKILL) / restart on the same port to test outages.

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { connect, createServer } from "node:net";
import { delimiter, join } from "node:path";

/** Path of redis-server on PATH (or the Debian location), undefined when not installed. */
export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Skip reason for node:test when redis-server is missing, false when it is there. */
export const redisSkipReason: string | false = findRedisServer()
  ? false
  : "redis-server is not on PATH: install it (Debian: apt-get install redis-server) to run the Redis tests";

/** Servers still running when the test process exits are killed with it. */
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

export class RedisServer {
  readonly port: number;
  readonly #binary: string;
  #child: ChildProcess | undefined;

  private constructor(binary: string, port: number) {
    this.#binary = binary;
    this.port = port;
  }

  /** Starts redis-server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const binary = findRedisServer();
    if (!binary) throw new Error(`${redisSkipReason}`);
    const server = new RedisServer(binary, await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** (Re)starts on the same port; resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error(`redis-server on port ${this.port} is already running`);
    const child = spawn(
      this.#binary,
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.#child = child;
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(this.port))) {
      if (child.exitCode !== null) {
        this.#child = undefined;
        throw new Error(`redis-server on port ${this.port} exited with code ${child.exitCode}: ${stderr}`);
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server on port ${this.port} did not answer PING within 10 s: ${stderr}`);
      }
      await sleep(20);
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, as in a hang. */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Thaws a paused server (SIGCONT). */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Graceful shutdown (SIGTERM). */
  stop(): Promise<void> {
    return this.#signal("SIGTERM");
  }

  /** Abrupt death (SIGKILL), as in a crash. */
  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** One raw RESP round trip: true when the server replies +PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
