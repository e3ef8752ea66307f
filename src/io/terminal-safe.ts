/**
 * Makes untrusted text (Box file names, Box error strings, callback parameters) safe to print on a terminal.
 * Box names can hold ESC sequences that would recolour, retitle or rewrite the user's terminal, and bidi
 * overrides that make a name read differently from what it is. Every C0/C1 control character, DEL and the
 * bidi controls are replaced by a visible escape (`\x1b`, `\u202e`); everything else is kept, non-ASCII
 * letters included.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0x09) return '\\t';
    if (code === 0x0a) return '\\n';
    if (code === 0x0d) return '\\r';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The colour codes our own painter (kleur: bold, dim, red, green, yellow, cyan) emits. Only these survive
 * terminalText, and only where colour is on: anything else that starts with ESC is escaped, so a string that
 * reached a line unfiltered can at worst recolour it, never move the cursor, retitle the window or write the
 * clipboard (OSC 52).
 */
const LINE_UNSAFE =
  /\u001b\[(?:1|2|22|31|32|33|36|39)m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

/**
 * The central filter for every line the output port writes to stderr (issue 15 item 7): like terminalSafe,
 * but newlines and tabs are kept (multi-line messages, tab-separated text) and, when `keepColor`, the
 * painter's colour codes.
 */
export function terminalText(text: string, keepColor = false): string {
  return text.replace(LINE_UNSAFE, (m) => (m.length > 1 ? (keepColor ? m : terminalSafe(m)) : terminalSafe(m)));
}

/**
 * The central filter for stdout. Data may be JSON (`--json`, `ls --json`'s stream): JSON.stringify leaves
 * DEL, the C1 controls (U+009B is CSI on many terminals), bidi controls and U+2028/2029 raw, so they are
 * written as \uXXXX, which a JSON parser reads back as the same character and which is also a visible escape
 * in plain text. Raw C0 characters never occur inside JSON strings, so escaping them keeps JSON valid too.
 */
export function dataText(text: string, keepColor = false): string {
  // Most data holds none of them: one scan of a plain character class (no alternation, no /u) says so at a
  // fraction of a replace's cost (issue 20: status --json of 10,000 users writes 6 MB through here).
  if (!DATA_UNSAFE.test(text)) return text;
  return text.replace(LINE_UNSAFE, (m) => (m.length > 1 && keepColor ? m : Array.from(m, unicodeEscape).join('')));
}

/** Every character LINE_UNSAFE can match starts with one of these (ESC, U+001B, is among them). */
const DATA_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function unicodeEscape(ch: string): string {
  return `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}
