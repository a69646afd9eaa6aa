// Binaryen post-processing of JS plugin snapshots, in a worker thread of plain Node.
//
// Why a plain-JS worker: binaryen.js is one 15 MB ES module; under the tsx loader (which `uee` and
// the benches run with) every import of it is transformed by esbuild and takes 8-11 s, while plain
// Node loads it in ~0.5 s. The worker is started with no loader hooks and no execArgv, loads
// binaryen once at start (so a server warms it before the first compile, off the main thread), and
// then serves requests: { id, snapshot, keepExports, hostFunctions, features, validate } →
// { id, wasm } | { id, error }.
import { parentPort } from 'node:worker_threads';

const ready = import('binaryen').then((m) => m.default);

const FEATURE_FLAGS = {
  atomics: 'Atomics',
  'bulk-memory': 'BulkMemory',
  'bulk-memory-opt': 'BulkMemoryOpt',
  'call-indirect-overlong': 'CallIndirectOverlong',
  'exception-handling': 'ExceptionHandling',
  'extended-const': 'ExtendedConst',
  fp16: 'FP16',
  memory64: 'Memory64',
  multimemory: 'MultiMemory',
  multivalue: 'Multivalue',
  'mutable-globals': 'MutableGlobals',
  'nontrapping-fptoint': 'NontrappingFPToInt',
  'reference-types': 'ReferenceTypes',
  'relaxed-simd': 'RelaxedSIMD',
  'sign-ext': 'SignExt',
  simd128: 'SIMD128',
  'tail-call': 'TailCall',
};

/** Binaryen feature bits for target_features names; unknown names are errors, not guesses. */
function featureBits(b, names) {
  let bits = b.Features.MVP;
  for (const n of names) {
    const key = FEATURE_FLAGS[n];
    if (key === undefined) throw new Error(`unknown wasm feature in the engine: ${n}`);
    bits |= b.Features[key];
  }
  return bits;
}

function finish(b, req) {
  const mod = b.readBinary(req.snapshot);
  try {
    mod.setFeatures(featureBits(b, req.features));
    for (let i = mod.getNumExports() - 1; i >= 0; i--) {
      const info = b.getExportInfo(mod.getExportByIndex(i));
      if (info.kind === b.ExternalFunction && !req.keepExports.includes(info.name)) mod.removeExport(info.name);
    }
    const hostFunctions = new Set(req.hostFunctions);
    const replace = [];
    for (let i = 0; i < mod.getNumFunctions(); i++) {
      const fi = b.getFunctionInfo(mod.getFunctionByIndex(i));
      if (!fi.module) continue;
      if (fi.module === 'extism:host/user' && !hostFunctions.has(fi.base ?? '')) {
        replace.push({ fi, body: (m) => m.i64.const(BigInt(0)) });
      } else if (fi.module.startsWith('wasi')) {
        // proc_exit must not return; the rest answer ENOSYS (52), which the engine never reaches at run time
        replace.push({ fi, body: (m) => (fi.base === 'proc_exit' || fi.results === b.none ? m.unreachable() : m.i32.const(52)) });
      }
    }
    for (const { fi, body } of replace) {
      mod.removeFunction(fi.name);
      mod.addFunction(fi.name, fi.params, fi.results, [], body(mod));
    }
    if (req.validate !== false && !mod.validate()) throw new Error('post-processed module failed binaryen validation');
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

parentPort.on('message', (req) => {
  if (req.type === 'ping') {
    ready.then(
      () => parentPort.postMessage({ id: req.id, ready: true }),
      (err) => parentPort.postMessage({ id: req.id, error: String(err?.stack ?? err) }),
    );
    return;
  }
  ready
    .then((b) => {
      const wasm = finish(b, req);
      parentPort.postMessage({ id: req.id, wasm });
    })
    .catch((err) => parentPort.postMessage({ id: req.id, error: String(err?.message ?? err) }));
});
