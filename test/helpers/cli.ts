// Run `aigc <args>` in-process with some command groups registered; returns what it printed
// to stdout (commander throws instead of exiting).
import { Command } from "commander";

export type RegisterCommands = (groups: { train: Command; eval: Command; root: Command }) => void;

export async function runAigc(register: RegisterCommands, ...args: string[]): Promise<string> {
  const root = new Command().name("aigc").exitOverride();
  register({ train: root.command("train"), eval: root.command("eval"), root });
  const printed: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => printed.push(parts.join(" "));
  try {
    await root.parseAsync(["node", "aigc", ...args]);
  } finally {
    console.log = log;
  }
  return printed.join("\n");
}
