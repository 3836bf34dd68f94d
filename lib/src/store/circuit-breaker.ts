import { InvalidInputError } from '../runtime/errors';
import type { CircuitState } from './types';

/**
 * Options of a {@link CircuitBreaker}: how many failures in a row open it and how long it stays
 * open (doubling up to a maximum).
 */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failed operations that open the circuit.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * Milliseconds the circuit stays open before one probe operation is let through (half-open).
   * @default 1000
   */
  cooldownMs?: number;
  /**
   * Each failed probe doubles the cool-down, up to this many milliseconds.
   * @default 10000
   */
  maxCooldownMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** The defaults of {@link CircuitBreakerOptions}: open after 5 failures, cool down for 1 s, doubling up to 10 s. */
export const DEFAULT_CIRCUIT_BREAKER_OPTIONS = {
  failureThreshold: 5,
  cooldownMs: 1000,
  maxCooldownMs: 10_000,
} as const satisfies CircuitBreakerOptions;

/**
 * Stops a store from hammering a dead server:
 * - **closed**: every operation goes through; `failureThreshold` consecutive failures open it;
 * - **open**: operations are refused (the store answers with a fallback) until `cooldownMs` passed;
 * - **half-open**: exactly one probe operation goes through; success closes the circuit, failure
 *   opens it again with a doubled cool-down.
 */
export class CircuitBreaker {
  private _state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private cooldown: number;
  private probeInFlight = false;
  private readonly threshold: number;
  private readonly baseCooldown: number;
  private readonly maxCooldown: number;
  private readonly now: () => number;
  /** Called on every state change. */
  onChange: ((state: CircuitState, previous: CircuitState) => void) | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? DEFAULT_CIRCUIT_BREAKER_OPTIONS.failureThreshold;
    this.baseCooldown = options.cooldownMs ?? DEFAULT_CIRCUIT_BREAKER_OPTIONS.cooldownMs;
    this.maxCooldown = Math.max(this.baseCooldown, options.maxCooldownMs ?? DEFAULT_CIRCUIT_BREAKER_OPTIONS.maxCooldownMs);
    if (!Number.isInteger(this.threshold) || this.threshold < 1) throw InvalidInputError.at('options.failureThreshold', 'an integer ≥ 1', this.threshold);
    if (!(this.baseCooldown >= 0)) throw InvalidInputError.at('options.cooldownMs', 'a number ≥ 0', this.baseCooldown);
    this.cooldown = this.baseCooldown;
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this._state;
  }

  /** Consecutive failures counted so far in the closed state. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * May an operation go to the server now? In the half-open state only the first caller gets `true`
   * (the probe); it must report `success()` or `failure()`.
   */
  allow(): boolean {
    if (this._state === 'closed') return true;
    if (this._state === 'open') {
      if (this.now() < this.openUntil) return false;
      this.set('half-open');
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    if (this._state !== 'closed') {
      this.probeInFlight = false;
      this.cooldown = this.baseCooldown;
      this.set('closed');
    }
  }

  failure(): void {
    if (this._state === 'half-open') {
      this.probeInFlight = false;
      this.cooldown = Math.min(this.cooldown * 2, this.maxCooldown);
      this.open();
      return;
    }
    if (this._state === 'open') return;
    this.failures++;
    if (this.failures >= this.threshold) this.open();
  }

  /** The server is known to be back (e.g. the client reconnected): let the next operation probe now. */
  expedite(): void {
    if (this._state === 'open') this.openUntil = 0;
  }

  /**
   * The result of an active health check (one that checked every server, outside the request path).
   * A passing check closes a circuit that is not closed: without it, an idle store whose circuit
   * opened would report itself unhealthy until some request happened to probe. A failing check
   * changes nothing: requests still decide when to open the circuit.
   */
  healthCheck(passed: boolean): void {
    if (passed && this._state !== 'closed') this.reset();
  }

  /** Back to closed, counters cleared. */
  reset(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.cooldown = this.baseCooldown;
    this.set('closed');
  }

  private open(): void {
    this.openUntil = this.now() + this.cooldown;
    this.set('open');
  }

  private set(state: CircuitState): void {
    const prev = this._state;
    if (prev === state) return;
    this._state = state;
    this.onChange?.(state, prev);
  }
}
