/**
 * Seeded request streams that look like real traffic, with real token counts (the text is encoded
 * by the caller's tokenizer). Four shapes:
 * - agent: long shared tool descriptions + a task + a scratchpad that grows turn by turn, many
 *   sessions interleaved — the case prefix caching was made for;
 * - chat: a shared system prompt + multi-turn conversations;
 * - rag: shared documents retrieved in varying order — prefix caching helps only up to the first
 *   document that differs;
 * - none: every prompt unique, the control where no cache can help.
 */
import { InvalidInputError } from '../runtime/errors';
import { SeededRng } from '../runtime/rng';
import type { ServeRequest } from '../engine/types';

/** The name of a synthetic request stream: agent, chat, rag, or none (no shared prefixes). */
export type WorkloadName = 'agent' | 'chat' | 'rag' | 'none';
/** Every workload name (see {@link WorkloadName}). */
export const WORKLOADS: readonly WorkloadName[] = ['agent', 'chat', 'rag', 'none'];

/**
 * The size and shape of a workload's request stream: requests, shared and per-turn tokens,
 * sessions, tokens to generate, seed.
 */
export interface WorkloadOptions {
  /** Number of requests in the stream. */
  requests: number;
  /**
   * Seed of all random choices.
   * @default 42
   */
  seed?: number;
  /**
   * Size of the shared part (tool descriptions, system prompt, one document) in approximate tokens.
   * @default 1024
   */
  sharedTokens?: number;
  /**
   * Approximate tokens a turn adds (an agent step, a chat exchange, a question).
   * @default 96
   */
  turnTokens?: number;
  /**
   * Sessions interleaved in the stream (agent, chat) or documents in the pool (rag).
   * @default 4
   */
  sessions?: number;
  /**
   * Greedy tokens generated per request.
   * @default 8
   */
  maxNewTokens?: number;
  /** Tenant of every request (isolation tests use several streams with different tenants). */
  tenant?: string;
}

/** The defaults of {@link WorkloadOptions}: seed 42, 1024 shared tokens, 96 per turn, 4 sessions, 8 new tokens per request. */
export const DEFAULT_WORKLOAD_OPTIONS = { seed: 42, sharedTokens: 1024, turnTokens: 96, sessions: 4, maxNewTokens: 8 } as const;

export type Encode = (text: string) => number[];

const WORDS = (
  'the a of to and in is for on with that as by this be are from at or an it can not which we you your their ' +
  'model token cache request server memory latency prefix block hash value store cluster node replica key time ' +
  'search result file code function return error test build deploy query user answer document section table ' +
  'price order customer account report data source step plan tool call input output status check update list ' +
  'read write open close start stop first next last new old large small fast slow high low more less each every ' +
  'city weather flight hotel date budget team project issue review merge branch commit release version note'
).split(' ');

const TOOLS = ['search_web', 'read_file', 'write_file', 'run_tests', 'query_database', 'send_email', 'get_weather', 'book_flight', 'create_ticket', 'summarize'];

/** Seeded text of about `approxTokens` BPE tokens (English words are ~1.3 tokens each). */
function prose(rng: SeededRng, approxTokens: number): string {
  const words: string[] = [];
  const n = Math.max(1, Math.round(approxTokens / 1.3));
  for (let i = 0; i < n; i++) {
    let w = rng.pick(WORDS);
    if (i % 13 === 0) w = w[0]!.toUpperCase() + w.slice(1);
    words.push(w);
    if (i % 13 === 12) words[words.length - 1] += '.';
  }
  return words.join(' ') + '.';
}

function toolDescriptions(rng: SeededRng, approxTokens: number): string {
  const parts: string[] = ['You are an agent. You can call these tools:\n'];
  let budget = approxTokens;
  let i = 0;
  while (budget > 0) {
    const name = `${TOOLS[i % TOOLS.length]}${i >= TOOLS.length ? `_${Math.floor(i / TOOLS.length)}` : ''}`;
    const desc = prose(rng, 60);
    parts.push(`- ${name}(query: string, limit: number): ${desc}\n`);
    budget -= 90;
    i++;
  }
  return parts.join('');
}

function check(o: WorkloadOptions): Required<Omit<WorkloadOptions, 'tenant'>> & { tenant?: string } {
  const r = { ...DEFAULT_WORKLOAD_OPTIONS, ...o };
  for (const k of ['requests', 'sharedTokens', 'turnTokens', 'sessions', 'maxNewTokens'] as const) {
    const v = r[k];
    if (!Number.isInteger(v) || v < (k === 'maxNewTokens' ? 0 : 1)) throw InvalidInputError.at(`options.${k}`, k === 'maxNewTokens' ? 'an integer ≥ 0' : 'a positive integer', v);
  }
  return r;
}

/** Build the request stream of a workload. Same options + same tokenizer → the same tokens. */
export function makeWorkload(name: WorkloadName, encode: Encode, options: WorkloadOptions): ServeRequest[] {
  const o = check(options);
  const rng = new SeededRng(o.seed);
  const out: ServeRequest[] = [];
  const push = (session: string, text: string): void => {
    out.push({ id: `${name}-${out.length}`, session, tokens: encode(text), maxNewTokens: o.maxNewTokens, ...(o.tenant ? { tenant: o.tenant } : {}) });
  };
  switch (name) {
    case 'agent': {
      const tools = toolDescriptions(rng, o.sharedTokens);
      const pads = Array.from({ length: o.sessions }, (_, s) => `${tools}\nTask ${s}: ${prose(rng, 40)}\n`);
      while (out.length < o.requests) {
        const s = rng.int(o.sessions);
        const step = `Thought: ${prose(rng, o.turnTokens * 0.3)}\nAction: ${rng.pick(TOOLS)}("${prose(rng, 6)}")\nObservation: ${prose(rng, o.turnTokens * 0.6)}\n`;
        pads[s] += step;
        push(`agent-${s}`, pads[s]!);
      }
      break;
    }
    case 'chat': {
      const system = `System: You are a helpful assistant. ${prose(rng, o.sharedTokens)}\n`;
      const convs = Array.from({ length: o.sessions }, () => system);
      while (out.length < o.requests) {
        const s = rng.int(o.sessions);
        convs[s] += `User: ${prose(rng, o.turnTokens * 0.4)}\n`;
        push(`chat-${s}`, convs[s]!);
        convs[s] += `Assistant: ${prose(rng, o.turnTokens * 0.6)}\n`;
      }
      break;
    }
    case 'rag': {
      const system = 'System: Answer from the documents below.\n';
      const docs = Array.from({ length: Math.max(3, o.sessions) }, (_, d) => `Document ${d}: ${prose(rng, o.sharedTokens / 2)}\n`);
      while (out.length < o.requests) {
        const chosen = rng.shuffle(docs.map((_, i) => i)).slice(0, 3);
        push(`rag-${chosen.join('-')}`, system + chosen.map((i) => docs[i]).join('') + `Question: ${prose(rng, o.turnTokens * 0.3)}\n`);
      }
      break;
    }
    case 'none': {
      while (out.length < o.requests) push(`none-${out.length}`, `Request ${out.length}: ${prose(rng, o.sharedTokens + o.turnTokens)}`);
      break;
    }
    default:
      throw InvalidInputError.at('name', `a known workload: ${WORKLOADS.join(', ')}`, name);
  }
  return out;
}
