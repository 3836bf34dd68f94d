import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBook } from '../../scripts/book/build';
import { estimateStudy } from '../../scripts/book/layout';
import { repoBlobUrl } from '../../scripts/book/links';
import { PageMarkdown, countWords, githubSlug } from '../../scripts/book/markdown';
import { PLOTLY_MIME, renderNotebook, statedStudyMinutes, terminalText, type Notebook } from '../../scripts/book/notebook';

const ROOT = path.resolve(__dirname, '..', '..');
const md = (text: string, resolve: (h: string) => string | undefined = (h) => h): { html: string; page: PageMarkdown } => {
  const page = new PageMarkdown(resolve);
  return { html: page.render(text), page };
};

describe('book: markdown', () => {
  it('gives headings GitHub\'s ids, unique on the page', () => {
    assert.equal(githubSlug('2. SGLang: RadixAttention and HiCache'), '2-sglang-radixattention-and-hicache');
    assert.equal(githubSlug("2.2 Authentication: a MAC with the cache's secret"), '22-authentication-a-mac-with-the-caches-secret');
    assert.equal(githubSlug('1 · The environment'), '1--the-environment');
    const { html, page } = md('## Evict\n\ntext\n\n## Evict\n\n### `maxmemory` and eviction policy');
    assert.deepEqual(page.headings.map((h) => h.id), ['evict', 'evict-1', 'maxmemory-and-eviction-policy']);
    assert.match(html, /<h2 id="evict-1">/);
  });

  it('typesets $…$ and $$…$$ with KaTeX, but not dollar amounts', () => {
    assert.match(md('a field $m$ and $$\\frac{m}{2^{M}}$$').html, /class="katex-display"[\s\S]*class="katex"/);
    const money = md('| $/GPU-hour | $/M tokens |\n|---|---|\n| $2 and $3 | x |').html;
    assert.doesNotMatch(money, /katex/);
    assert.match(money, /\$2 and \$3/);
    assert.throws(() => md('$$\\frac{1}{$$'), /KaTeX|parse/i, 'a formula that does not parse fails the build');
  });

  it('maps links through the page\'s resolver; a link it drops keeps its text', () => {
    const { html, page } = md('[glossary](../docs/glossary.md#prefix-caching) and [source](../lib/src/x.ts)', (h) => (h.startsWith('../docs') ? '../docs/glossary.html#prefix-caching' : undefined));
    assert.match(html, /<a href="\.\.\/docs\/glossary\.html#prefix-caching">glossary<\/a>/);
    assert.match(html, /<span class="repo-ref" title="\.\.\/lib\/src\/x\.ts">source<\/span>/);
    assert.deepEqual(page.dropped, ['../lib/src/x.ts']);
  });

  it('highlights code blocks', () => {
    assert.match(md('```ts\nconst x = 1;\n```').html, /<span class="hljs-keyword">const<\/span>/);
  });
});

describe('book: notebooks', () => {
  const nb: Notebook = {
    metadata: { kvlab: { run: { fast: true, date: '2026-01-02T03:04:05Z', seconds: 12 } } },
    cells: [
      { cell_type: 'markdown', source: ['# 01 · Title\n', '\n', '**Study time:** about 45 minutes.'] },
      { cell_type: 'code', source: 'nb.plot(fig);', outputs: [
        // What lab.plot sends: plotly JSON, HTML carrying a whole plotly.js bundle, and text.
        { output_type: 'display_data', data: { [PLOTLY_MIME]: { data: [{ type: 'bar', y: [1, 2] }], layout: { title: { text: 'T</script>' } } }, 'text/html': '<script>/* plotly.js, 4 MB */</script><div></div>', 'text/plain': '<Plotly figure>' } },
        { output_type: 'display_data', data: { 'text/markdown': 'Found **3** blocks', 'text/plain': '' } },
        { output_type: 'stream', name: 'stdout', text: 'progress 10%\rprogress 100%\r\ndone\n' },
        { output_type: 'stream', name: 'stderr', text: '\u001b[31mwarning\u001b[0m\n' },
      ] },
      { cell_type: 'code', source: 'boom()', outputs: [{ output_type: 'error', ename: 'Error', evalue: 'boom', traceback: ['at <cell>'] }] },
    ],
  };

  it('renders charts from the plotly JSON (never the HTML copy with its own plotly.js), and the other outputs', () => {
    const r = renderNotebook(nb, new PageMarkdown((h) => h));
    assert.equal(r.charts, 1);
    assert.match(r.html, /<div class="kvlab-chart" id="chart-1"/);
    assert.match(r.html, /<script type="application\/json" class="kvlab-figure" data-for="chart-1">\{"data":\[\{"type":"bar"/);
    assert.doesNotMatch(r.html, /plotly\.js, 4 MB/);
    assert.doesNotMatch(r.html, /T<\/script>/, 'a figure cannot close its script element');
    assert.match(r.html, /Found <strong>3<\/strong> blocks/);
    assert.match(r.html, /<pre class="output stream stdout">progress 100%\ndone/);
    assert.match(r.html, /<pre class="output stream stderr">warning/);
    assert.match(r.html, /<pre class="output error">Error: boom\nat &lt;cell&gt;/);
    assert.deepEqual(r.run, { fast: true, date: '2026-01-02T03:04:05Z', seconds: 12 });
  });

  it('reads the study time the notebook states, in either way the notebooks write it', () => {
    assert.equal(statedStudyMinutes(nb), 45);
    assert.equal(statedStudyMinutes({ cells: [{ cell_type: 'markdown', source: 'Study time: about 60 minutes, plus…' }] }), 60);
    assert.equal(statedStudyMinutes({ cells: [{ cell_type: 'markdown', source: '# Start' }] }), undefined);
    assert.equal(terminalText('a\rb\n'), 'b\n');
  });

  it('estimates other pages\' study time from their words, and says so', () => {
    assert.equal(countWords('One two, three-four `five` 5.5'), 5);
    assert.deepEqual(estimateStudy(2100), { minutes: 15, basis: 'estimated from its 2,100 words at 200 words a minute' });
    assert.equal(estimateStudy(10).minutes, 5);
  });

  it('links repository files to GitHub where the address is known (Actions sets it)', () => {
    assert.equal(repoBlobUrl(undefined, {}), undefined);
    assert.equal(repoBlobUrl(undefined, { GITHUB_REPOSITORY: 'o/r', GITHUB_SHA: 'abc' }), 'https://github.com/o/r/blob/abc');
    assert.equal(repoBlobUrl('https://github.com/o/r.git', {}), 'https://github.com/o/r/blob/HEAD');
  });
});

describe('book: a whole site from a small repository', function () {
  this.timeout(30_000);
  let repo: string;
  let executed: string;
  let out: string;

  before(() => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvlab-book-'));
    repo = path.join(tmp, 'repo');
    executed = path.join(tmp, 'executed');
    out = path.join(tmp, 'site');
    for (const d of ['notebooks', 'docs/img', 'scripts', 'lib']) fs.mkdirSync(path.join(repo, d), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, 'scripts', 'book'), path.join(repo, 'scripts', 'book'));
    fs.writeFileSync(path.join(repo, 'README.md'), '# About\n\nSee [getting started](GETTING_STARTED.md) and [the docs](docs/).\n');
    fs.writeFileSync(path.join(repo, 'GETTING_STARTED.md'), '# Getting started\n\nOpen [notebook 00](notebooks/00_a.ipynb).\n');
    fs.writeFileSync(path.join(repo, 'lib', 'x.ts'), '');
    fs.copyFileSync(path.join(ROOT, 'docs', 'img', fs.readdirSync(path.join(ROOT, 'docs', 'img'))[0]!), path.join(repo, 'docs', 'img', 'a.png'));
    fs.writeFileSync(path.join(repo, 'docs', '01_intro.md'), '# Intro\n\n## Terms\n\n![a chart](img/a.png) [code](../lib/x.ts) [back](../notebooks/00_a.ipynb#1--first)\n');
    fs.writeFileSync(path.join(repo, 'docs', 'glossary.md'), '# Glossary\n\n' + 'word '.repeat(1500) + '\n\nSee [terms](01_intro.md#terms).\n');
    const source = { metadata: {}, nbformat: 4, nbformat_minor: 5, cells: [{ cell_type: 'markdown', metadata: {}, source: '# 00 · A\n\nStudy time: about 20 minutes.\n\n## 1 · First' }, { cell_type: 'code', metadata: {}, source: 'plot()', outputs: [] }] };
    fs.writeFileSync(path.join(repo, 'notebooks', '00_a.ipynb'), JSON.stringify(source));
    fs.mkdirSync(executed);
    const run = structuredClone(source) as Notebook & { metadata: object };
    run.metadata = { kvlab: { run: { fast: false, date: '2026-01-01T00:00:00Z', seconds: 3 } } };
    run.cells[1]!.outputs = [{ output_type: 'display_data', data: { [PLOTLY_MIME]: { data: [{ y: [1] }] } } }];
    fs.writeFileSync(path.join(executed, '00_a.ipynb'), JSON.stringify(run));
  });

  after(() => fs.rmSync(path.dirname(repo), { recursive: true, force: true }));

  it('writes every page, the contents with study times, one plotly.js, the images, a manifest', () => {
    const r = buildBook({ root: repo, from: executed, out });
    assert.deepEqual(r.broken, []);
    assert.deepEqual(r.manifest.pages.map((p) => [p.site, p.studyMinutes]), [
      ['index.html', 0], ['about.html', 5], ['getting-started.html', 5], ['notebooks/00_a.html', 20], ['docs/01_intro.html', 5], ['docs/glossary.html', 10],
    ]);
    assert.equal(r.manifest.info.mode, 'full');
    assert.equal(r.manifest.pages.find((p) => p.site === 'notebooks/00_a.html')?.charts, 1);
    for (const f of ['index.html', 'assets/plotly.min.js', 'assets/book.js', 'assets/katex/katex.min.css', 'docs/img/a.png', 'notebooks/00_a.ipynb', '.nojekyll', 'book.json']) {
      assert.ok(fs.existsSync(path.join(out, f)), f);
    }
    const page = fs.readFileSync(path.join(out, 'notebooks', '00_a.html'), 'utf8');
    assert.match(page, /<script src="\.\.\/assets\/plotly\.min\.js"><\/script>/);
    assert.match(page, /Study time: about 20 minutes \(as the notebook states it\)/);
    assert.match(page, /<a rel="prev" href="\.\.\/getting-started\.html">← Getting started<\/a>/);
    assert.match(page, /<a rel="next" href="\.\.\/docs\/01_intro\.html">Intro →<\/a>/);
    assert.doesNotMatch(page, /cdn|https:\/\/[^"]*plotly/i);
    const doc = fs.readFileSync(path.join(out, 'docs', '01_intro.html'), 'utf8');
    assert.match(doc, /<img src="img\/a\.png"/);
    assert.match(doc, /href="\.\.\/notebooks\/00_a\.html#1--first"/);
    assert.doesNotMatch(doc, /plotly\.min\.js/, 'pages without charts do not load plotly.js');
    const index = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(index, /Study time, all pages: about 45 min/);
    assert.match(fs.readFileSync(path.join(out, 'about.html'), 'utf8'), /href="index\.html#the-written-course"/);
  });

  it('reports links to missing pages and anchors, fast-mode runs, and refuses a missing executed notebook', () => {
    fs.appendFileSync(path.join(repo, 'docs', 'glossary.md'), '\n[gone](01_intro.md#nothing) [nowhere](missing.md)\n');
    const run = JSON.parse(fs.readFileSync(path.join(executed, '00_a.ipynb'), 'utf8'));
    run.metadata.kvlab.run.fast = true;
    fs.writeFileSync(path.join(executed, '00_a.ipynb'), JSON.stringify(run));
    const r = buildBook({ root: repo, from: executed, out });
    assert.deepEqual(r.broken.map((b) => [b.from, b.href]).sort(), [['docs/glossary.html', '01_intro.md#nothing'], ['docs/glossary.html', 'missing.md']]);
    assert.equal(r.manifest.info.mode, 'fast');
    assert.match(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), /fast-mode/);
    fs.rmSync(path.join(executed, '00_a.ipynb'));
    assert.throws(() => buildBook({ root: repo, from: executed, out }), /no executed copy of notebooks\/00_a\.ipynb.*npm run reproduce/);
  });
});
