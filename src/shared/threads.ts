import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * A worker thread running one of deskgate's modules. Built (.js), the module runs as is; from
 * source under tsx (tests) the thread registers tsx's loader first, since loader hooks are not
 * inherited by worker threads on Node 20. `from` is the caller's import.meta.url and `module`
 * the file's name without extension, next to the caller.
 */
export function startModuleThread(from: string, module: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const fromSource = from.endsWith('.ts');
  const url = new URL(`./${module}${fromSource ? '.ts' : '.js'}`, from);
  if (!fromSource) return new Worker(url, { workerData, ...(resourceLimits ? { resourceLimits } : {}) });
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData, ...(resourceLimits ? { resourceLimits } : {}) });
}
