// Prints a temp models directory holding the named fixture models under test/<name> (tokenizer
// included), laid out as the tests lay them out; the caller removes it.
import { fixtureModelsDir } from '../../test/helpers/app.js'

const names = process.argv.slice(2)
process.stdout.write(await fixtureModelsDir(names.length > 0 ? names : ['tiny-bert-mean']))
