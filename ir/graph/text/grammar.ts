// The grammar of the graph-level text as a chevrotain CstParser. It only
// recognises structure and builds a concrete syntax tree; build.ts gives the
// tree its meaning (dtypes, dims, literal ranges) so the rules stay readable.

import { CstParser, EOF } from "../../chevrotain.js";
import type { CstNode, IParserErrorMessageProvider, IRecognitionException, IToken, TokenType } from "chevrotain";
import * as T from "./lexer.js";

/** Receives each statement of a graph's body as soon as it is parsed; `startGraph` comes before a graph's first. */
export interface StatementSink {
  startGraph(): void;
  take(statement: CstNode): void;
}

class GraphTextGrammar extends CstParser {
  /** Where statements go as they are parsed, during one parse. */
  sink: StatementSink | undefined;

  constructor() {
    super(T.ALL_TOKENS, { errorMessageProvider: plainMessages, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  module = this.RULE("module", () => {
    this.CONSUME(T.Module);
    this.CONSUME(T.AtName);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.header));
    this.AT_LEAST_ONE(() => this.SUBRULE(this.graph));
    this.CONSUME(T.RBrace);
  });

  header = this.RULE("header", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Opset);
          this.CONSUME(T.StringLit, { LABEL: "domain" });
          this.CONSUME(T.Equals);
          this.CONSUME(T.Integer, { LABEL: "version" });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: "key" });
          this.CONSUME2(T.Equals);
          this.OR2([
            { ALT: () => this.CONSUME2(T.StringLit, { LABEL: "value" }) },
            { ALT: () => this.CONSUME2(T.Integer, { LABEL: "value" }) },
          ]);
        },
      },
    ]);
  });

  graph = this.RULE("graph", () => {
    this.CONSUME(T.Graph);
    this.CONSUME(T.AtName);
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.param) });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.CONSUME2(T.LParen);
    this.MANY_SEP2({ SEP: T.Comma, DEF: () => this.CONSUME(T.ValueName, { LABEL: "outputs" }) });
    this.CONSUME2(T.RParen);
    this.CONSUME(T.LBrace);
    this.ACTION(() => this.sink?.startGraph());
    this.MANY(() => {
      const statement = this.SUBRULE(this.statement);
      this.ACTION(() => this.sink?.take(statement));
    });
    this.CONSUME(T.Return);
    this.MANY_SEP3({ SEP: T.Comma, DEF: () => this.CONSUME2(T.ValueName, { LABEL: "results" }) });
    this.CONSUME(T.RBrace);
  });

  param = this.RULE("param", () => {
    this.CONSUME(T.ValueName);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
  });

  // Constants and nodes both open with their defined names; the token after
  // the names (':' or '=') tells them apart.
  statement = this.RULE("statement", () => {
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.valueOrNone, { LABEL: "defines" }) });
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Colon);
          this.SUBRULE(this.tensorType);
          this.CONSUME(T.Equals);
          this.SUBRULE(this.constantBody);
        },
      },
      {
        ALT: () => {
          this.CONSUME2(T.Equals);
          this.SUBRULE(this.nodeBody);
        },
      },
    ]);
  });

  valueOrNone = this.RULE("valueOrNone", () => {
    this.CONSUME(T.ValueOrNone);
  });

  constantBody = this.RULE("constantBody", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Weight);
          this.CONSUME(T.StringLit, { LABEL: "file" });
          this.CONSUME(T.Offset);
          this.CONSUME(T.Integer, { LABEL: "offset" });
          this.CONSUME(T.Length);
          this.CONSUME2(T.Integer, { LABEL: "length" });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Dense);
          this.SUBRULE(this.denseValues);
        },
      },
    ]);
  });

  nodeBody = this.RULE("nodeBody", () => {
    this.SUBRULE(this.opName);
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.valueOrNone, { LABEL: "inputs" }) });
    this.CONSUME(T.RParen);
    this.OPTION(() => this.SUBRULE(this.attrDict));
    this.OPTION2(() => {
      this.CONSUME(T.Colon);
      this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.tensorType, { LABEL: "types" }) });
    });
    this.OPTION3(() => {
      this.CONSUME(T.Loc);
      this.CONSUME2(T.LParen);
      this.CONSUME(T.StringLit, { LABEL: "loc" });
      this.CONSUME2(T.RParen);
    });
  });

  opName = this.RULE("opName", () => {
    this.OPTION(() => {
      this.CONSUME(T.StringLit, { LABEL: "domain" });
      this.CONSUME(T.Dot);
    });
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier, { LABEL: "op" }) },
      { ALT: () => this.CONSUME2(T.StringLit, { LABEL: "op" }) },
    ]);
  });

  attrDict = this.RULE("attrDict", () => {
    this.CONSUME(T.LBrace);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.attr) });
    this.CONSUME(T.RBrace);
  });

  attr = this.RULE("attr", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier, { LABEL: "name" }) },
      { ALT: () => this.CONSUME(T.StringLit, { LABEL: "name" }) },
    ]);
    this.CONSUME(T.Equals);
    this.OR2([
      { ALT: () => this.SUBRULE(this.scalar) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.tensorLiteral) },
    ]);
  });

  scalar = this.RULE("scalar", () => {
    this.OR([{ ALT: () => this.SUBRULE(this.number) }, { ALT: () => this.CONSUME(T.StringLit) }]);
  });

  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.scalar) });
    this.CONSUME(T.RBracket);
  });

  tensorLiteral = this.RULE("tensorLiteral", () => {
    this.CONSUME(T.Dense);
    this.CONSUME(T.LAngle);
    this.SUBRULE(this.tensorType);
    this.CONSUME(T.RAngle);
    this.SUBRULE(this.denseValues);
  });

  denseValues = this.RULE("denseValues", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.number) });
    this.CONSUME(T.RBracket);
  });

  number = this.RULE("number", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.PlainNumber) },
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.CONSUME(T.Inf);
        },
      },
    ]);
  });

  tensorType = this.RULE("tensorType", () => {
    this.CONSUME(T.Identifier, { LABEL: "dtype" });
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: "unknownRank" }) },
        { ALT: () => this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dim) }) },
      ]);
    });
    this.CONSUME(T.RBracket);
  });

  // A dim is any run of expression tokens; symbolic.ts reads its source text.
  dim = this.RULE("dim", () => {
    this.CONSUME(T.DimStart, { LABEL: "first" });
    this.MANY(() => this.CONSUME(T.DimPart, { LABEL: "rest" }));
  });
}

/** Chevrotain's messages, reworded as `expected X but found Y`. */
const plainMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, previous }) =>
    expectedButFound([expected], actual) + colonHint(expected, previous),
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `expected end of input but found ${describe(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) =>
    expectedButFound(expectedPathsPerAlt.flatMap((paths) => paths.map((path) => path[0]!)), actual[0]!),
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    expectedButFound(expectedIterationPaths.map((path) => path[0]!), actual[0]!),
};

function expectedButFound(expected: readonly TokenType[], actual: IToken): string {
  const words = [...new Set(expected.map((t) => t.LABEL ?? t.name))];
  const list = words.length <= 1 ? (words[0] ?? "something else") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
  return `expected ${list} but found ${describe(actual)}`;
}

// Bare value names may contain ':' (TensorFlow's `x:0`), so `%x:f32[2]` reads as
// the name `x:f32`; say so rather than leave the reader puzzled.
function colonHint(expected: TokenType, previous: IToken): string {
  const glued = expected === T.Colon && previous.tokenType === T.ValueName && /^%[^"].*:/.test(previous.image);
  return glued ? ` ('${previous.image}' reads as one name: put a space after the ':')` : "";
}

function describe(token: IToken): string {
  return token.tokenType === EOF ? "end of input" : `'${token.image}'`;
}

// Building the grammar is slow (self-analysis), so one instance, made on first
// use, serves every parse; commands that never parse text never pay for it.
let grammar: GraphTextGrammar | undefined;

export type ParseResult = { readonly cst: CstNode } | { readonly problem: IRecognitionException };

/**
 * The syntax tree of a whole module, or the first syntax error, as data. With a
 * `sink`, each graph statement also goes to it as soon as it is parsed.
 */
export function parseGraphTokens(tokens: IToken[], sink?: StatementSink): ParseResult {
  grammar ??= new GraphTextGrammar();
  grammar.input = tokens;
  grammar.sink = sink;
  let cst: CstNode;
  try {
    cst = grammar.module();
  } finally {
    grammar.sink = undefined;
  }
  const problem = grammar.errors[0];
  // The instance outlives the parse: drop its tokens (millions for a large module), which it would otherwise keep.
  grammar.input = [];
  return problem ? { problem } : { cst };
}
