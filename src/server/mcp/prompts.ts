import { z } from 'zod';
import type { GetPromptResult } from '@modelcontextprotocol/server';

/** A prompt: named arguments (all strings, as MCP requires) and a text built from them. */
export interface PromptSpec {
  name: string;
  title: string;
  description: string;
  args: Record<string, z.ZodType<string | undefined>>;
  /** Tool names the text refers to (checked against the registry in tests). */
  tools: string[];
  render(args: Record<string, string | undefined>): GetPromptResult;
}

const arg = (max: number, description: string) => z.string().max(max).describe(description);
const user = (text: string): GetPromptResult => ({ messages: [{ role: 'user', content: { type: 'text', text } }] });

/** The prompts every UEE MCP server offers. */
export function corePrompts(): PromptSpec[] {
  return [
    {
      name: 'write_event_plugin',
      title: 'Write an event plugin',
      description: 'Step by step: from an event type to a deployed plugin that reacts to it, using UEE tools only.',
      args: {
        goal: arg(2000, 'What the plugin should do, e.g. "when a Task is created, set its priority from its title"'),
        eventType: arg(128, 'The event type it reacts to, e.g. EntityCreated').optional(),
        tenantId: arg(64, 'The tenant to test in').optional(),
      },
      tools: ['plugin_scaffold', 'plugin_compile', 'plugin_test', 'plugin_deploy', 'entity_put', 'entity_query', 'event_emit', 'entity_get'],
      render: (a) =>
        user(
          [
            `Build a UEE event plugin. Goal: ${a.goal ?? '(describe the goal)'}`,
            `It reacts to ${a.eventType ?? 'the event type that fits the goal'}${a.tenantId ? ` in tenant ${a.tenantId}` : ''}.`,
            '',
            '1. Read the resources uee://docs/sdk (the SDK of your language; its typings: uee://sdk/typings/ts), uee://docs/plugin-abi (host functions and the capability each needs), uee://schemas/plugin-manifest and uee://catalogue/event-types (event types and payload keys really seen).',
            '2. Look at real data first: entity_query on the entity type involved, entity_get on one example.',
            '3. plugin_scaffold with name, kind "event", language, events, the minimal capabilities and the goal as description.',
            '4. plugin_compile; fix every diagnostic at its position, and check the required capabilities it reports.',
            '5. plugin_test with a realistic event and fixture entities; check writes, emits and errors. Nothing real is touched.',
            '6. plugin_deploy with dryRun: true; read the capability diff, affected tenants and cycle warnings; then deploy for real.',
            '7. Verify end to end: event_emit (or entity_put) in the tenant, then entity_get / entity_query to see the plugin\'s effect.',
            'Every failed call answers {code, message, hint}: follow the hint (e.g. add the capability it names) instead of guessing.',
          ].join('\n'),
        ),
    },
    {
      name: 'write_workflow_plugin',
      title: 'Write a workflow plugin',
      description: 'Design a multi-step workflow plugin (state in entities, timers, follow-up events) and deploy it.',
      args: {
        goal: arg(2000, 'The process to automate, e.g. "remind the owner of an open Task after 3 days, then escalate"'),
        startEvent: arg(128, 'The event that starts the workflow').optional(),
      },
      tools: ['plugin_scaffold', 'plugin_compile', 'plugin_test', 'plugin_deploy', 'entity_query', 'event_emit'],
      render: (a) =>
        user(
          [
            `Build a UEE workflow plugin. Process: ${a.goal ?? '(describe the process)'}`,
            `It starts on ${a.startEvent ?? 'the event that fits'}.`,
            '',
            'Design it as a state machine: the workflow state lives in an entity (writeEntities), each step reacts to one event, and waits are timers (executeTimers) that fire follow-up events. Every handler must be idempotent: events are delivered at least once.',
            '1. Read uee://docs/plugin-abi (schedule_timer, spawn_workflow, write_entity) and uee://catalogue/event-types.',
            '2. plugin_scaffold with kind "workflow", the events of every step, and only the capabilities the steps use.',
            '3. plugin_compile, then plugin_test each step with the state entity as a fixture; check the timers and emits it returns.',
            '4. plugin_deploy with dryRun: true; check the chain and cycle warnings (a step must not re-trigger itself), then deploy.',
            '5. Start it with event_emit and follow the state with entity_query.',
          ].join('\n'),
        ),
    },
    {
      name: 'fix_dead_lettered_plugin',
      title: 'Fix a dead-lettered plugin',
      description: 'Diagnose why a plugin dead-letters events, fix it, prove the fix on the failed event, and redeploy.',
      args: {
        plugin: arg(128, 'The plugin name').optional(),
        eventId: arg(128, 'A dead-lettered event id').optional(),
      },
      tools: ['dead_letter_list', 'event_trace', 'plugin_logs', 'plugin_source', 'plugin_compile', 'dead_letter_replay', 'plugin_deploy'],
      render: (a) =>
        user(
          [
            `A UEE plugin${a.plugin ? ` (${a.plugin})` : ''} dead-letters events${a.eventId ? `, e.g. ${a.eventId}` : ''}. Fix it.`,
            '',
            '1. dead_letter_list for the plugin: read each error code (CAPABILITY_DENIED, BUDGET_EXCEEDED, PLUGIN_TRAP, PLUGIN_OUTPUT_INVALID, …) and the attempts.',
            '2. event_trace on the event to see its causation chain; plugin_logs for what the handler logged.',
            '3. plugin_source to read the deployed code; compare with uee://docs/plugin-abi and the hint of the error (uee://catalogue/errors).',
            '4. Change the code (or the manifest: a missing capability, a budget too small), plugin_compile it.',
            '5. dead_letter_replay the failed event against the new version as a test: it must now succeed without touching real data.',
            '6. plugin_deploy with dryRun: true, then for real.',
          ].join('\n'),
        ),
    },
  ];
}
