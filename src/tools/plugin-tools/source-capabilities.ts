/**
 * Capabilities a plugin needs that its module's imports do not show. Reading `input.entity` calls no
 * host function — the router puts the entity into the input — yet the runtime hands it only to a
 * plugin granted `readEntities` (deny by default). A module that reads it without the capability
 * runs, sees `undefined`, and silently does nothing; so the sources are scanned for it.
 */

/** `input.entity`, `x.entity?.…`, and `{ event, entity }` destructuring — not `entityId`/`entityTypeId`. */
const READS_ENTITY = [/\.\s*entity\b(?![\w$])/, /\{\s*(?:[\w$]+\s*(?::\s*[\w$]+\s*)?,\s*)*entity\s*(?::\s*[\w$]+\s*)?[,}]/];

/** Capabilities the sources need beyond their imports, with the reason for each. */
export function sourceCapabilities(files: Record<string, string> | undefined): Array<{ capability: 'readEntities'; reason: string; file: string }> {
  for (const [file, text] of Object.entries(files ?? {})) {
    if (!/\.(ts|js|mjs|mts)$/.test(file)) continue;
    if (READS_ENTITY.some((re) => re.test(text))) {
      return [{ capability: 'readEntities', file, reason: `${file} reads input.entity, which the runtime hands only to plugins granted readEntities` }];
    }
  }
  return [];
}
