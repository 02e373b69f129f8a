// Preload (`node --import` / NODE_OPTIONS) that appends the URL of every module the process
// loads to the file in DESKGATE_MODULE_LOG: ES modules from a load hook (which runs on the
// loader thread, so it writes the file itself), CommonJS ones from require's cache at exit.
import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const file = process.env.DESKGATE_MODULE_LOG;
if (file) {
  register('./module-log-hooks.mjs', import.meta.url, { data: { file } });
  process.on('exit', () => {
    const cjs = Object.keys(Module._cache).map((f) => pathToFileURL(f).href);
    appendFileSync(file, cjs.map((u) => `${u}\n`).join(''));
  });
}
