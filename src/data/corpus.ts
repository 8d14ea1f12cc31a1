// Text corpora from Debian packages (nothing is downloaded at run time).

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export const FORTUNES_DIR = "/usr/share/games/fortunes";

/** Cookie files that Debian package `fortunes-zh` adds to the same folder (Chinese, not English). */
export const CHINESE_FORTUNE_FILES = ["tang300", "song100", "chinese"] as const;

/** Cookie files that are pictures, not prose. */
const NOT_PROSE = ["ascii-art"];

/**
 * English prose from Debian's `fortunes` package: every cookie file in name order (not the
 * ones `fortunes-zh` puts beside them, nor ASCII art),
 * "%" separators turned into blank lines, up to `maxBytes` characters.
 */
export function loadFortunes(maxBytes = 400_000, dir = FORTUNES_DIR): string {
  if (!existsSync(dir)) {
    throw new Error(`no fortunes corpus at ${dir}: install it with \`apt-get install -y fortunes\` (Debian package)`);
  }
  const files = readdirSync(dir)
    .filter((f) => !f.includes(".") && !(CHINESE_FORTUNE_FILES as readonly string[]).includes(f) && !NOT_PROSE.includes(f))
    .sort();
  let text = "";
  for (const f of files) {
    const path = join(dir, f);
    if (!statSync(path).isFile()) continue;
    const body = readFileSync(path, "utf8").replace(/\r/g, "").replace(/^%\n/gm, "\n");
    text += body;
    if (text.length >= maxBytes) break;
  }
  if (text.length === 0) throw new Error(`the fortunes corpus at ${dir} is empty`);
  return text.slice(0, maxBytes);
}
