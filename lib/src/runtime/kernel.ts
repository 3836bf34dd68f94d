/**
 * Access to the running tslab kernel, when there is one. tslab's public display API sends one MIME
 * type per output; rich outputs (plotly JSON + HTML + text in one output) need the kernel's own
 * `lastWriteDisplayData`, found in `require.cache` of the kernel process. tslab is pinned exactly
 * (1.0.22) in package.json because this is internal API.
 */
export interface DisplayMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}

type WriteDisplayData = (message: DisplayMessage, update: boolean) => void;

const JUPYTER_MODULE = /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/;

function findWriter(): WriteDisplayData | undefined {
  for (const [file, mod] of Object.entries(require.cache)) {
    if (!JUPYTER_MODULE.test(file)) continue;
    const writer = (mod?.exports as { lastWriteDisplayData?: WriteDisplayData | null } | undefined)?.lastWriteDisplayData;
    if (typeof writer === 'function') return writer;
  }
  return undefined;
}

/** True inside a tslab kernel that has started executing cells. */
export function inNotebook(): boolean {
  return findWriter() !== undefined;
}

/** Send one display_data (or update_display_data) message with several MIME types. */
export function sendDisplay(data: Record<string, unknown>, options: { displayId?: string; update?: boolean } = {}): boolean {
  const writer = findWriter();
  if (!writer) return false;
  const message: DisplayMessage = { data, metadata: {} };
  if (options.displayId !== undefined) message.transient = { display_id: options.displayId };
  writer(message, options.update ?? false);
  return true;
}

/** Escape text for HTML element content and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON that is safe inside an HTML `<script>` element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
