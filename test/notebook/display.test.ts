import { strict as assert } from 'node:assert';
import { figureToHtml, figureToPage, plot, plotlyScript, PLOTLY_MIME } from '../../lib/src/notebook/plot';
import { table, tableToHtml, tableToMarkdown, tableToText } from '../../lib/src/notebook/table';
import { progress } from '../../lib/src/runtime/progress';

interface Sent {
  message: { data: Record<string, unknown>; transient?: { display_id?: string } };
  update: boolean;
}

/** Stand in for the running tslab kernel's module, found by the library through require.cache. */
function withKernel(fn: (sent: Sent[]) => void): Sent[] {
  const key = '/virtual/node_modules/tslab/dist/jupyter.js';
  const sent: Sent[] = [];
  const mod = { exports: { lastWriteDisplayData: (message: Sent['message'], update: boolean) => sent.push({ message, update }) } };
  (require.cache as Record<string, unknown>)[key] = mod;
  try {
    fn(sent);
  } finally {
    delete (require.cache as Record<string, unknown>)[key];
  }
  return sent;
}

describe('notebook displays', () => {
  const fig = { data: [{ type: 'bar', x: ['a'], y: [1] }], layout: { title: { text: 'T </script> & "q"' } } };

  it('plot sends one output with plotly JSON, HTML and text; the bundle only once; ids deterministic', () => {
    const sent = withKernel(() => {
      plot(fig);
      plot(fig);
    });
    assert.equal(sent.length, 2);
    const [first, second] = sent.map((s) => s.message.data);
    for (const d of [first!, second!]) {
      assert.deepEqual(Object.keys(d).sort(), [PLOTLY_MIME, 'text/html', 'text/plain'].sort());
      assert.deepEqual((d[PLOTLY_MIME] as { data: unknown }).data, fig.data);
    }
    const bundle = plotlyScript().slice(0, 200);
    assert.ok((first!['text/html'] as string).includes(bundle), 'the first plot carries plotly.js');
    assert.ok(!(second!['text/html'] as string).includes(bundle), 'later plots do not');
    const ids = sent.map((s) => /id="(kvlab-plot-\d+)"/.exec(s.message.data['text/html'] as string)?.[1]);
    assert.match(ids[0]!, /^kvlab-plot-\d+$/);
    assert.equal(Number(ids[1]!.split('-').pop()), Number(ids[0]!.split('-').pop()) + 1);
    assert.ok(!/<script[^>]*\bsrc=/i.test(first!['text/html'] as string), 'no external script (no CDN)');
  });

  it('figure HTML escapes what would end the script element', () => {
    const html = figureToHtml(fig, { id: 'x', includePlotly: false });
    assert.ok(!html.includes('T </script>'), 'a title cannot close the script tag');
    assert.ok(figureToPage(fig, 'page').startsWith('<!doctype html>'));
    assert.throws(() => plot({} as never), { code: 'INVALID_INPUT' });
  });

  it('tables render as text, HTML and Markdown, with escaping', () => {
    const rows = [{ name: 'a<b', n: 1234, x: 0.123456 }, { name: 'c|d', n: 5, x: 2 }];
    assert.match(tableToText(rows), /a<b\s+1,234\s+0\.1235/);
    assert.match(tableToHtml(rows), /<td>a&lt;b<\/td>/);
    const md = tableToMarkdown(rows);
    assert.match(md, /\| c\\\|d \| 5 \| 2 \|/);
    assert.match(md.split('\n')[1]!, /\|---\|---:\|---:\|/);
    const sent = withKernel(() => table(rows));
    assert.deepEqual(Object.keys(sent[0]!.message.data).sort(), ['text/html', 'text/plain']);
  });

  it('progress updates one display in place in a notebook', () => {
    const sent = withKernel(() => {
      const p = progress(3, 'work', { intervalMs: 0 });
      p.tick();
      p.tick();
      p.done();
    });
    assert.ok(sent.length >= 3);
    const ids = new Set(sent.map((s) => s.message.transient?.display_id));
    assert.equal(ids.size, 1, 'one display id');
    assert.equal(sent[0]!.update, false);
    assert.ok(sent.slice(1).every((s) => s.update), 'then update_display_data');
    assert.match(sent[sent.length - 1]!.message.data['text/plain'] as string, /100% \(3\/3\)/);
  });
});
