// An ADQL editor without a build step: the user types in an ordinary <textarea>, whose
// text is transparent, over a <pre> that shows the same text coloured by a small
// tokenizer (keywords, functions, strings, numbers, comments, quoted names). The <pre>
// is rebuilt from text nodes on every change, never from HTML, and follows the
// textarea's scrolling. A position the compiler names (line, column) is marked in it.
"use strict";

const AdqlEditor = (() => {
  const KEYWORDS = new Set((
    "ALL AND AS ASC BETWEEN BY CASE CAST CROSS DESC DISTINCT ELSE END ESCAPE EXCEPT EXISTS " +
    "FALSE FETCH FIRST FROM FULL GROUP HAVING ILIKE IN INNER INTERSECT IS JOIN LEFT LIKE " +
    "LIMIT NATURAL NEXT NOT NULL NULLS OFFSET ON ONLY OR ORDER OUTER RIGHT ROW ROWS SELECT " +
    "SOME ANY THEN TOP TRUE UNION USING WHEN WHERE WITH BIGINT CHAR DOUBLE INTEGER " +
    "PRECISION REAL SMALLINT VARCHAR TIMESTAMP"
  ).split(" "));
  const FUNCTIONS = new Set((
    "ABS ACOS ASIN ATAN ATAN2 CEILING COS COT DEGREES EXP FLOOR LOG LOG10 MOD PI POWER " +
    "RADIANS RAND ROUND SIN SQRT TAN TRUNCATE LOWER UPPER COALESCE GREATEST LEAST " +
    "COUNT SUM AVG MIN MAX IN_UNIT POINT CIRCLE BOX POLYGON CENTROID CONTAINS INTERSECTS " +
    "DISTANCE AREA COORD1 COORD2 COORDSYS REGION IVO_HEALPIX_INDEX IVO_EPOCH_PROP_POS"
  ).split(" "));

  // One pattern per token class, tried in this order at each position.
  const RULES = [
    ["space", /\s+/y],
    ["comment", /--[^\n]*/y],
    ["comment", /\/\*[\s\S]*?(?:\*\/|$)/y],
    ["string", /'(?:[^']|'')*'?/y],
    ["name", /"(?:[^"]|"")*"?/y],
    ["number", /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y],
    ["word", /[A-Za-z_][A-Za-z0-9_]*/y],
    ["operator", /<=|>=|<>|!=|\|\||[-+*/%<>=]/y],
    ["punct", /[(),.;]/y],
  ];

  // Tokens as [start, end, class] covering the whole text.
  function tokenize(text) {
    const tokens = [];
    let at = 0;
    while (at < text.length) {
      let matched = false;
      for (const [kind, rule] of RULES) {
        rule.lastIndex = at;
        const found = rule.exec(text);
        if (!found || !found[0].length) continue;
        let cls = kind;
        if (kind === "word") {
          const upper = found[0].toUpperCase();
          if (FUNCTIONS.has(upper) && /^\s*\(/.test(text.slice(rule.lastIndex, rule.lastIndex + 40))) cls = "function";
          else if (KEYWORDS.has(upper)) cls = "keyword";
          else if (FUNCTIONS.has(upper)) cls = "function";
          else cls = "";
        }
        tokens.push([at, rule.lastIndex, cls]);
        at = rule.lastIndex;
        matched = true;
        break;
      }
      if (!matched) { tokens.push([at, at + 1, ""]); at += 1; }
    }
    return tokens;
  }

  // The offset in ``text`` of a 1-based line and column (null when out of range).
  function offsetOf(text, line, column) {
    if (!line || !column) return null;
    let start = 0;
    for (let n = 1; n < line; n += 1) {
      const next = text.indexOf("\n", start);
      if (next < 0) return null;
      start = next + 1;
    }
    return Math.min(start + column - 1, text.length);
  }

  class Editor {
    constructor(textarea, view, options = {}) {
      this.textarea = textarea;
      this.view = view;
      // The element that scrolls with the textarea: the <pre> around the view.
      this.scroller = view.closest("pre") || view;
      this.mark = null; // [line, column]
      this.onRun = options.onRun || (() => {});
      this.onEdit = options.onEdit || (() => {});
      textarea.addEventListener("input", () => { this.mark = null; this.render(); this.onEdit(); });
      textarea.addEventListener("scroll", () => this.follow());
      textarea.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this.onRun();
        }
      });
      this.render();
    }

    get value() { return this.textarea.value; }

    set value(text) {
      this.textarea.value = text;
      this.mark = null;
      this.render();
    }

    // Mark the compiler's position (1-based line and column); null clears it.
    markError(line, column) {
      this.mark = line && column ? [line, column] : null;
      this.render();
      this.revealMark();
    }

    // Put the caret at the marked position and scroll it into view.
    revealMark() {
      if (!this.mark) return;
      const at = offsetOf(this.value, this.mark[0], this.mark[1]);
      if (at === null) return;
      const marked = this.view.querySelector("mark");
      if (marked) {
        const box = this.textarea;
        const top = marked.offsetTop - box.clientHeight / 2;
        box.scrollTop = Math.max(top, 0);
        box.scrollLeft = Math.max(marked.offsetLeft - box.clientWidth / 2, 0);
        this.follow();
      }
    }

    follow() {
      this.scroller.scrollTop = this.textarea.scrollTop;
      this.scroller.scrollLeft = this.textarea.scrollLeft;
    }

    render() {
      const text = this.textarea.value;
      const tokens = tokenize(text);
      const markAt = this.mark ? offsetOf(text, this.mark[0], this.mark[1]) : null;
      const out = document.createDocumentFragment();
      let marked = false;
      for (const [start, end, cls] of tokens) {
        const piece = text.slice(start, end);
        if (markAt !== null && !marked && markAt >= start && markAt < end && cls !== "space") {
          out.append(Portal.el("mark", { class: "adql-error", title: "the error is here" },
            cls ? Portal.el("span", { class: `tok-${cls}` }, piece) : piece));
          marked = true;
        } else if (markAt !== null && !marked && markAt >= start && markAt < end) {
          // The position is in blanks: mark the one character there.
          const local = markAt - start;
          out.append(piece.slice(0, local),
            Portal.el("mark", { class: "adql-error", title: "the error is here" }, piece[local] === "\n" ? " " : piece[local]),
            piece[local] === "\n" ? piece.slice(local) : piece.slice(local + 1));
          marked = true;
        } else if (cls) {
          out.append(Portal.el("span", { class: `tok-${cls}` }, piece));
        } else {
          out.append(piece);
        }
      }
      if (markAt !== null && !marked) {
        // At the very end (a query that stops too early).
        out.append(Portal.el("mark", { class: "adql-error", title: "the error is here" }, " "));
      }
      // A final newline keeps the last line's height equal to the textarea's.
      out.append("\n");
      this.view.replaceChildren(out);
      this.follow();
    }
  }

  return { Editor, tokenize, offsetOf };
})();
