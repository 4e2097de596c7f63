// The same semantics end to end: a real Node server on port 0 and a real ws client.
import { node } from "../support/harness.js"
import { semanticsSuite } from "../support/semantics.js"

semanticsSuite(node)
