// The shapes of bare (unquoted) names in the graph-level text. The lexer and the
// printer share them so that whatever prints bare also reads back as one token.

/**
 * A value name that needs no quotes after `%` (docs/IR-TEXT.md). It may not end
 * with ':' so that `%x: f32[2]` reads as a name followed by its type.
 */
export const BARE_VALUE_NAME = /^[A-Za-z0-9_.$:/-]*[A-Za-z0-9_.$/-]$/;

/**
 * Module, graph, op and attribute names print bare when they look like this.
 * Dots are left out so that `"domain".Op` never reads ambiguously.
 */
export const BARE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A string literal with JSON escapes; JSON.parse reads its image. */
export const STRING_LITERAL = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;
