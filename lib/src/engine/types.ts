/** One request to the serving engine. */
export interface ServeRequest {
  /** Unique id within a stream. */
  id: string;
  /** Prompt token ids. */
  tokens: number[];
  /** Greedy tokens to generate after the prompt. */
  maxNewTokens: number;
  /** Tenant whose cache salt isolates its entries from other tenants'. */
  tenant?: string;
  /** Conversation / agent session the request belongs to (for reporting only). */
  session?: string;
}
