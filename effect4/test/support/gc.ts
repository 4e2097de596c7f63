/** A full garbage collection, for tests that check what a connection keeps (WeakRef). */
import * as v8 from "node:v8"
import * as vm from "node:vm"

v8.setFlagsFromString("--expose-gc")
const collect = vm.runInNewContext("gc") as () => void

/** Collects garbage until `ref` is gone, a few times at most (a collection may leave it for the next). */
export const collected = async (ref: WeakRef<object>): Promise<boolean> => {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    collect()
  }
  return ref.deref() === undefined
}
