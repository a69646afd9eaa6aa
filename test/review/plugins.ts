/** TypeScript plugins of the review tests: v1 writes a note per task; v2 also scores it with a built-in offline model. */
export const NOTES_V1 = `import { on, writeEntity } from 'uee:plugin';
on('TaskCreated', (input) => {
  writeEntity({ entityTypeId: 'Note', attributes: { text: 'v1 ' + String(input.event.payload.title) } });
});
`;
export const NOTES_V2 = `import { on, writeEntity, callModel } from 'uee:plugin';
on('TaskCreated', (input) => {
  const score = callModel({ model: 'task.prioritizer.v2', input: { importance: 5, dueInDays: 1 } });
  writeEntity({ entityTypeId: 'Note', attributes: { text: 'v2 ' + String(input.event.payload.title), score: JSON.stringify(score) } });
});
`;
/** A plugin emitting the event it subscribes to: a cycle. */
export const LOOP = `import { on, emitEvent } from 'uee:plugin';
on('Looped', () => { emitEvent({ type: 'Looped', payload: {} }); });
`;
