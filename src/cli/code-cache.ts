import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

// Runs the pipe's CommonJS bundle (scripts/bundle.mjs) with V8's code cache, which Node 20 has
// no switch for (Node 22's module.enableCompileCache): V8 then deserialises the bytecode that a
// run at build time compiled instead of parsing and compiling ~4 MB of JavaScript per message.

/** The bundle's first line, `//deskgate-build:<id>`, which its cache file starts with too. */
const BUILD_LINE = /^\/\/deskgate-build:[0-9a-f]+\n/;

export interface LoadedBundle<T> {
  exports: T;
  /** accepted: the cache was used; rejected: V8 refused it (another Node or V8 flags); none. */
  cache: 'accepted' | 'rejected' | 'none';
  /** Writes the cache of what has been compiled so far (the build's warm-up run). */
  writeCache(): void;
}

/**
 * The cache file is the bundle's build line plus V8's data. V8 checks its version, flags and the
 * source's length, not the source itself, so the build line is what ties a cache to its bundle.
 */
function cachedDataFor(cachePath: string, buildLine: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cachePath);
  } catch {
    return undefined;
  }
  return file.subarray(0, buildLine.length).toString('latin1') === buildLine ? file.subarray(buildLine.length) : undefined;
}

/** Loads `bundlePath` as a CommonJS module, with its code cache from `cachePath` when it fits. */
export function loadBundle<T>(bundlePath: string, cachePath: string): LoadedBundle<T> {
  const bytes = readFileSync(bundlePath);
  // The build writes the bundle as ASCII: read that as a one-byte string, ~3x faster than UTF-8.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const buildLine = BUILD_LINE.exec(source)?.[0];
  if (!buildLine) throw new Error(`${bundlePath} has no build line`);
  const cachedData = cachedDataFor(cachePath, buildLine);
  // Node's own CommonJS wrapper, on the first line so that stack traces keep their lines.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: bundlePath, cachedData });
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
  return {
    exports: module.exports,
    cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
    writeCache() {
      const tmp = `${cachePath}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.concat([Buffer.from(buildLine, 'latin1'), script.createCachedData()]));
      renameSync(tmp, cachePath);
    },
  };
}
