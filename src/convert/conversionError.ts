import { ModelFileError } from "../engine/model/modelFiles.js";

/**
 * A checkpoint the converter cannot use, with a message that names the file and the problem. It is a
 * ModelFileError, so `tah` prints it without a stack trace.
 */
export class ConversionError extends ModelFileError {}

/** The conversion was interrupted (SIGINT, a cancelled progress notification); nothing was left behind. */
export class ConversionAborted extends ConversionError {}

