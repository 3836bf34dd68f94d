/**
 * Markdown → HTML for the book, as GitHub shows our docs and Jupyter shows our notebooks: GFM, heading
 * ids with GitHub's slugs (the docs link to `#2-sglang-radixattention-and-hicache`), `$…$` and
 * `$$…$$` typeset with KaTeX at build time (no MathJax from a CDN), code highlighted at build time.
 * One `PageMarkdown` per page: heading ids are unique within it, as on GitHub.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import typescript from 'highlight.js/lib/languages/typescript';
import yaml from 'highlight.js/lib/languages/yaml';
import katex from 'katex';
import { Marked, type Tokens, type TokenizerAndRendererExtension } from 'marked';

hljs.registerLanguage('typescript', typescript);
hljs.registerLanguage('bash', bash);
hljs.registerLanguage('json', json);
hljs.registerLanguage('python', python);
hljs.registerLanguage('yaml', yaml);
const LANGUAGE_ALIASES: Record<string, string> = { ts: 'typescript', js: 'typescript', javascript: 'typescript', sh: 'bash', shell: 'bash', console: 'bash', py: 'python', yml: 'yaml' };

export interface Heading {
  depth: number;
  id: string;
  text: string;
}

/** What a link in a page's source points at, once the site maps it: a URL, or undefined to drop the link (text stays). */
export type LinkResolver = (href: string) => string | undefined;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function textOf(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** GitHub's heading slug: lower case, everything but letters, digits, `_`, `-` and spaces dropped, spaces → `-`. */
export function githubSlug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Highlighted HTML of `code` in `lang` (TypeScript for notebook cells); escaped plain text for languages we do not load. */
export function highlight(code: string, lang: string | undefined): string {
  const name = lang ? (LANGUAGE_ALIASES[lang.toLowerCase()] ?? lang.toLowerCase()) : undefined;
  if (name && hljs.getLanguage(name)) return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  return escapeHtml(code);
}

function typeset(tex: string, displayMode: boolean): string {
  // throwOnError: a typo in a formula fails the build (and so `npm test`) instead of showing red text.
  return katex.renderToString(tex, { displayMode, throwOnError: true, output: 'html' });
}

// `$$…$$` anywhere inline (display), `$…$` with pandoc's rule against dollar amounts: no space just
// inside either `$`, and no digit right after the closing one ("$2 and $3" is not math).
const mathExtension: TokenizerAndRendererExtension = {
  name: 'math',
  level: 'inline',
  start: (src: string) => src.indexOf('$'),
  tokenizer(src: string) {
    const display = /^\$\$([\s\S]+?)\$\$/.exec(src);
    if (display) return { type: 'math', raw: display[0], text: display[1]!.trim(), display: true };
    const inline = /^\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<!\s)\$(?!\d)/.exec(src);
    if (inline) return { type: 'math', raw: inline[0], text: inline[1]!, display: false };
    return undefined;
  },
  renderer(token) {
    return typeset(String(token.text), Boolean(token.display));
  },
};

export class PageMarkdown {
  readonly headings: Heading[] = [];
  /** Links that resolve() dropped: `[href, text]`. */
  readonly dropped: string[] = [];
  private readonly used = new Map<string, number>();
  private readonly marked: Marked;

  constructor(resolve: LinkResolver) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const page = this;
    this.marked = new Marked({
      gfm: true,
      extensions: [mathExtension],
      renderer: {
        heading({ tokens, depth }: Tokens.Heading): string {
          const inner = this.parser.parseInline(tokens);
          const text = textOf(inner).trim();
          const id = page.uniqueId(githubSlug(text));
          page.headings.push({ depth, id, text });
          return `<h${depth} id="${escapeHtml(id)}"><a class="anchor" href="#${escapeHtml(id)}" aria-hidden="true">#</a>${inner}</h${depth}>\n`;
        },
        code({ text, lang }: Tokens.Code): string {
          const language = (lang ?? '').split(/\s/)[0] || undefined;
          return `<pre class="code"><code class="hljs${language ? ` language-${escapeHtml(language)}` : ''}">${highlight(text, language)}</code></pre>\n`;
        },
        link({ href, title, tokens }: Tokens.Link): string {
          const inner = this.parser.parseInline(tokens);
          const target = resolve(href);
          if (target === undefined) {
            page.dropped.push(href);
            return `<span class="repo-ref" title="${escapeHtml(href)}">${inner}</span>`;
          }
          const external = /^[a-z][a-z0-9+.-]*:/i.test(target);
          return `<a href="${escapeHtml(target)}"${title ? ` title="${escapeHtml(title)}"` : ''}${external ? ' rel="noopener"' : ''}>${inner}</a>`;
        },
        image({ href, title, text }: Tokens.Image): string {
          const target = resolve(href);
          if (target === undefined) {
            page.dropped.push(href);
            return `<span class="repo-ref">[image: ${escapeHtml(text)}]</span>`;
          }
          return `<img src="${escapeHtml(target)}" alt="${escapeHtml(text)}"${title ? ` title="${escapeHtml(title)}"` : ''} loading="lazy">`;
        },
      },
    });
  }

  private uniqueId(slug: string): string {
    const n = this.used.get(slug) ?? 0;
    this.used.set(slug, n + 1);
    return n === 0 ? slug : `${slug}-${n}`;
  }

  render(markdown: string): string {
    return this.marked.parse(markdown, { async: false });
  }
}

/** Words a reader reads in `markdown` (code and markup counted as they read, roughly). */
export function countWords(markdown: string): number {
  return (markdown.match(/[\p{L}\p{N}][\p{L}\p{N}'’_.-]*/gu) ?? []).length;
}
