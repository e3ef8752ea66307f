/**
 * Makes untrusted text (Box file names, Box error strings, callback parameters) safe to print on a terminal.
 * Box names can hold ESC sequences that would recolour, retitle or rewrite the user's terminal, and bidi
 * overrides that make a name read differently from what it is. Every C0/C1 control character, DEL and the
 * bidi controls are replaced by a visible escape (`\x1b`, `\u202e`); everything else is kept, non-ASCII
 * letters included.
 */
// eslint-disable-next-line no-control-regex
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

/** Tabs and newlines would break tab-separated output even when harmless on a terminal. */
export function fieldSafe(text: string): string {
  return terminalSafe(text);
}
