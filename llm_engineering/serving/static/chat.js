// The chat page: streams the twin's answer from /v1/chat/completions (server-sent events)
// and lists its sources. No dependencies; the API key is kept in this browser's localStorage.
// Answers are Markdown: the page shows the raw text while it streams and asks the server
// (POST /v1/markdown: markdown-it with raw HTML off, then the nh3 sanitiser) for the HTML.
// Model text is never put into innerHTML by this page itself.
"use strict";

const $ = (id) => document.getElementById(id);
const keyInput = $("key");
keyInput.value = localStorage.getItem("llm-twin-key") || "";
keyInput.addEventListener("change", () => {
  localStorage.setItem("llm-twin-key", keyInput.value);
  loadModels();
  loadSuggestions();
});
const history = [];

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h.Authorization = "Bearer " + keyInput.value;
  return h;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadModels() {
  try {
    const response = await fetch("/v1/models", { headers: headers() });
    if (!response.ok) return;
    const select = $("model");
    const current = select.value;
    select.replaceChildren();
    for (const model of (await response.json()).data) {
      const option = element("option", "", model.id);
      option.value = model.id;
      select.appendChild(option);
    }
    select.value = current;
    if (!select.value && select.options.length) select.selectedIndex = 0;
  } catch (error) { /* the page still works with the default model */ }
}

async function loadSuggestions() {
  const box = $("suggestions");
  box.replaceChildren();
  try {
    const response = await fetch("/v1/suggestions?n=4", { headers: headers() });
    if (!response.ok) return;
    for (const question of (await response.json()).data) {
      const chip = element("button", "", question);
      chip.type = "button";
      chip.addEventListener("click", () => { $("question").value = question; ask(); });
      box.appendChild(chip);
    }
  } catch (error) { /* no suggestions */ }
}

// Render `text` as Markdown into `answer`; a render that was overtaken by a later one is dropped.
async function renderMarkdown(answer, text) {
  const seq = (answer.renderSeq = (answer.renderSeq || 0) + 1);
  try {
    const response = await fetch("/v1/markdown", {
      method: "POST", headers: headers(), body: JSON.stringify({ text }),
    });
    if (!response.ok || seq !== answer.renderSeq) return;
    const { html } = await response.json();
    if (seq !== answer.renderSeq) return;
    answer.innerHTML = html;  // sanitised on the server (allow-listed tags, no handlers, no script)
    answer.classList.add("markdown");
  } catch (error) { /* the raw text stays */ }
}

function showSources(turn, citations) {
  if (!citations || !citations.length) return;
  const list = element("ol", "sources");
  for (const c of citations) {
    const item = element("li");
    const link = element("a", "", c.title || c.link);
    link.href = c.link;
    link.target = "_blank";
    link.rel = "noopener";
    item.append(link, document.createTextNode(" — " + c.author));
    list.appendChild(item);
  }
  turn.appendChild(list);
}

async function ask() {
  const question = $("question").value.trim();
  if (!question) return;
  $("question").value = "";
  $("send").disabled = true;
  $("log").appendChild(element("div", "turn user", question));
  const turn = element("div", "turn assistant");
  const answer = element("div", "answer");
  turn.appendChild(answer);
  $("log").appendChild(turn);
  const messages = [...history, { role: "user", content: question }];
  let text = "";
  let lastRender = 0;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ model: $("model").value, messages, stream: true }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const event = JSON.parse(data);
        if (event.error) throw new Error(event.error.message);
        if (event.citations) showSources(turn, event.citations);
        for (const choice of event.choices || []) {
          if (choice.delta && choice.delta.content) {
            text += choice.delta.content;
            if (!answer.classList.contains("markdown")) answer.textContent = text;
            const now = Date.now();
            if (now - lastRender > 400) { lastRender = now; renderMarkdown(answer, text); }
          }
        }
      }
    }
    history.push({ role: "user", content: question }, { role: "assistant", content: text });
    await renderMarkdown(answer, text);
    turn.dataset.done = "true";
  } catch (error) {
    turn.appendChild(element("div", "error", "Error: " + error.message));
    turn.dataset.done = "error";
  } finally {
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (event) => { event.preventDefault(); ask(); });
loadModels();
loadSuggestions();
