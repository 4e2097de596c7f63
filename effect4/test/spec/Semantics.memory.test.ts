// The loop's semantics with no socket at all: the in-memory transport under TestClock.
import { memory } from "../support/harness.js"
import { semanticsSuite } from "../support/semantics.js"

semanticsSuite(memory)
