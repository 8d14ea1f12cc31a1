// The chat template of the project's chat models: each turn opens with its role token and
// ends with <|eos|>; the prompt ends with an open assistant turn, so generation stops at the
// <|eos|> the model learned to write after an answer.
//
//   <|system|>You answer questions about Debian.<|eos|>
//   <|user|>What is a named pipe?<|eos|>
//   <|assistant|>A named pipe is a file that acts like a pipe.<|eos|>
//
// The same template in Jinja (Hugging Face's `chat_template`) is saved with the tokenizer, so
// other runtimes format prompts the same way.

/** Role tokens, added to a chat tokenizer's special tokens after the defaults. */
export const CHAT_ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"] as const;
export const END_OF_TURN = "<|eos|>";

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ChatTurn {
  role: ChatRole;
  content: string;
}

const roleToken: Record<ChatRole, string> = {
  system: "<|system|>",
  user: "<|user|>",
  assistant: "<|assistant|>",
  tool: "<|tool|>",
};

/** One finished turn. */
export const chatTurnText = (turn: ChatTurn): string => `${roleToken[turn.role]}${turn.content.trim()}${END_OF_TURN}`;

/** The prompt for the next assistant turn. */
export function chatTemplatePrompt(turns: readonly ChatTurn[]): string {
  return `${turns.map(chatTurnText).join("")}${roleToken.assistant}`;
}

/** A whole training transcript: every turn closed. */
export const chatTranscript = (turns: readonly ChatTurn[]): string => turns.map(chatTurnText).join("");

/** Hugging Face `chat_template` (Jinja) equal to `chatTemplatePrompt` with `add_generation_prompt`. */
export const CHAT_TEMPLATE_JINJA =
  "{% for message in messages %}{{ '<|' + message['role'] + '|>' + (message['content'] | trim) + '<|eos|>' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";
