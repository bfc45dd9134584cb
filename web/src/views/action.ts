// What a settings view does around each action: busy while it runs, its error or success said
// once (messages cleared first), never an unhandled rejection.
import { ref } from 'vue'

export function useAction() {
  const busy = ref(false)
  const message = ref('')
  const error = ref('')

  async function run(what: () => Promise<unknown>, done = ''): Promise<void> {
    busy.value = true
    error.value = ''
    message.value = ''
    try {
      await what()
      if (done) message.value = done  // else what() says it, if anything
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e)
    } finally {
      busy.value = false
    }
  }

  return { busy, message, error, run }
}
