// The globals the page's libraries define, for type-checking the page's
// script (test/viz/render.test.ts): dagre's browser bundle, inlined ahead of it.

declare const dagre: typeof import("@dagrejs/dagre");
