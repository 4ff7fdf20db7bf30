// Importing this module registers every built-in pass.
import "./infer-shapes.js";
import "./fold-constants.js";
import "./remove-identity.js";
import "./cse.js";
import "./dce.js";
import "./fuse-patterns.js";
import "./decompose-composites.js";
import "./name-nodes.js";
import "./expand-ops.js";
import "./mark-kv-cache.js";
