//! uee_plugin — the UEE plugin SDK for Rust (compiled by compileRust for wasm32-unknown-unknown).
//!
//! No dependencies: the Extism kernel imports, a small JSON value type, the host functions and a
//! handler dispatcher, with the same names and JSON shapes as the TypeScript and AssemblyScript
//! SDKs (docs/sdk.md). Host calls return `Result<Value, Error>`; a handler returning `Err` ends the
//! event with that error's `code` and `message`, like `fail()` in AssemblyScript. A panic is
//! reported as the error `PANIC` with its message, then traps.
//!
//! ```ignore
//! use uee_plugin::*;
//! fn on_task(input: &Value) -> Result<Option<Value>, Error> {
//!     let entity = read_entity(input.get("event").get("entityId").str())?;
//!     Ok(Some(Value::obj().set("seen", entity)))
//! }
//! #[no_mangle]
//! pub extern "C" fn handle() -> i32 { dispatch(&[("TaskCreated", on_task)]) }
//! ```
#![allow(clippy::all)]

use std::fmt::Write as _;

mod ffi {
#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    pub fn input_length() -> u64;
    pub fn input_load_u8(offset: u64) -> u8;
    pub fn input_load_u64(offset: u64) -> u64;
    pub fn alloc(length: u64) -> u64;
    pub fn length(offset: u64) -> u64;
    pub fn load_u8(offset: u64) -> u8;
    pub fn load_u64(offset: u64) -> u64;
    pub fn store_u8(offset: u64, value: u8);
    pub fn store_u64(offset: u64, value: u64);
    pub fn output_set(offset: u64, length: u64);
    pub fn error_set(offset: u64);
}

#[link(wasm_import_module = "extism:host/user")]
extern "C" {
    pub fn read_entity(req: u64) -> u64;
    pub fn write_entity(req: u64) -> u64;
    pub fn emit_event(req: u64) -> u64;
    pub fn query_read_model(req: u64) -> u64;
    pub fn update_read_model(req: u64) -> u64;
    pub fn get_tenant_config(req: u64) -> u64;
    pub fn call_model(req: u64) -> u64;
    pub fn schedule_timer(req: u64) -> u64;
    pub fn cancel_timer(req: u64) -> u64;
    pub fn spawn_workflow(req: u64) -> u64;
    pub fn log(req: u64) -> u64;
}
}
use ffi::{alloc, error_set, input_length, input_load_u64, input_load_u8, length, load_u64, load_u8, output_set, store_u64, store_u8};

// ---- JSON -----------------------------------------------------------------------------------

/// A JSON value. Objects keep insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

static NULL: Value = Value::Null;

impl Value {
    /// An empty object.
    pub fn obj() -> Value {
        Value::Obj(Vec::new())
    }
    /// An empty array.
    pub fn arr() -> Value {
        Value::Arr(Vec::new())
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// Member of an object (`Null` when absent or not an object).
    pub fn get(&self, key: &str) -> &Value {
        if let Value::Obj(members) = self {
            for (k, v) in members {
                if k == key {
                    return v;
                }
            }
        }
        &NULL
    }
    /// Element of an array (`Null` when out of range or not an array).
    pub fn at(&self, i: usize) -> &Value {
        match self {
            Value::Arr(items) => items.get(i).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    /// String content (`""` unless a string).
    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            _ => "",
        }
    }
    /// The number, when this is one.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Number content (0 unless a number).
    pub fn num(&self) -> f64 {
        self.as_num().unwrap_or(0.0)
    }
    pub fn bool(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
    /// Sets an object member (replacing one with the same key) and returns the object, for chaining.
    pub fn set(mut self, key: &str, v: impl Into<Value>) -> Value {
        let v = v.into();
        if let Value::Obj(members) = &mut self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = v,
                None => members.push((key.to_string(), v)),
            }
        }
        self
    }
    /// Appends to an array and returns it.
    pub fn push(mut self, v: impl Into<Value>) -> Value {
        if let Value::Arr(items) = &mut self {
            items.push(v.into());
        }
        self
    }
    /// Compact JSON text, numbers formatted like JavaScript's for the usual range.
    pub fn stringify(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Num(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Num(n as f64)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&Value> for Value {
    fn from(v: &Value) -> Value {
        v.clone()
    }
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(n) => {
            if !n.is_finite() {
                out.push_str("null");
            } else if *n == 0.0 {
                out.push('0');
            } else {
                let _ = write!(out, "{}", n);
            }
        }
        Value::Str(s) => quote(s, out),
        Value::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Obj(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(k, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses JSON text; `None` when it is not valid JSON.
pub fn parse(text: &str) -> Option<Value> {
    let mut p = Parser { b: text.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i == p.b.len() {
        Some(v)
    } else {
        None
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }
    fn eat(&mut self, word: &str) -> bool {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> Option<Value> {
        self.ws();
        match *self.b.get(self.i)? {
            b'n' => self.eat("null").then(|| Value::Null),
            b't' => self.eat("true").then(|| Value::Bool(true)),
            b'f' => self.eat("false").then(|| Value::Bool(false)),
            b'"' => self.string().map(Value::Str),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Some(Value::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat("]") {
                        return Some(Value::Arr(items));
                    }
                    if !self.eat(",") {
                        return None;
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Some(Value::Obj(members));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return None;
                    }
                    members.push((key, self.value()?));
                    self.ws();
                    if self.eat("}") {
                        return Some(Value::Obj(members));
                    }
                    if !self.eat(",") {
                        return None;
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.b.len() && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                std::str::from_utf8(&self.b[start..self.i]).ok()?.parse::<f64>().ok().map(Value::Num)
            }
        }
    }
    fn string(&mut self) -> Option<String> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.b.len() && self.b[self.i] != b'"' && self.b[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.b[start..self.i]).ok()?);
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => {
                    self.i += 1;
                    let c = *self.b.get(self.i)?;
                    self.i += 1;
                    match c {
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) && self.eat("\\u") {
                                let low = self.hex4()?;
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        other => out.push(other as char),
                    }
                }
            }
        }
    }
    fn hex4(&mut self) -> Option<u32> {
        let s = std::str::from_utf8(self.b.get(self.i..self.i + 4)?).ok()?;
        self.i += 4;
        u32::from_str_radix(s, 16).ok()
    }
}

// ---- memory and host calls ------------------------------------------------------------------

// Direct I/O (docs/plugin-abi.md, "Direct I/O"): a host that calls `uee_io_enable` (the UEE runtime)
// copies the input, the output and each host call's request and answer as whole ranges of this
// module's memory instead of 8 bytes per kernel call. Plain Extism hosts never enable it, and the
// kernel path below runs unchanged.
const IO_NONE: i32 = 0;
const IO_OUTPUT: i32 = 1;
const IO_ERROR: i32 = 2;
const IO_REQUEST: i32 = 3;
/// What a host function returns when it staged its answer with `uee_io_stage`.
const IO_STAGED: u64 = 1;

struct Io {
    on: bool,
    flags: i32,
    ptr: u32,
    len: u32,
    /// The host's staged bytes, until taken.
    stage: Option<Vec<u8>>,
    /// Staged during a host call: its answer, never a call's input.
    stage_answer: bool,
    /// The last call's output or error, kept until the next call starts (the host reads it after the call).
    result: Vec<u8>,
}

static mut IO: Io = Io { on: false, flags: IO_NONE, ptr: 0, len: 0, stage: None, stage_answer: false, result: Vec::new() };

fn io() -> &'static mut Io {
    // One thread (wasm32-unknown-unknown); every borrow ends before the next host function is entered.
    unsafe { &mut *std::ptr::addr_of_mut!(IO) }
}

#[no_mangle]
pub extern "C" fn uee_io_enable() -> i32 {
    io().on = true;
    1
}
#[no_mangle]
pub extern "C" fn uee_io_flags() -> i32 {
    io().flags
}
#[no_mangle]
pub extern "C" fn uee_io_ptr() -> u32 {
    io().ptr
}
#[no_mangle]
pub extern "C" fn uee_io_len() -> u32 {
    io().len
}
#[no_mangle]
pub extern "C" fn uee_io_stage(len: u32) -> u32 {
    let st = io();
    let mut buf = vec![0u8; len as usize];
    let ptr = buf.as_mut_ptr() as u32;
    st.stage_answer = st.flags == IO_REQUEST;
    st.stage = Some(buf);
    ptr
}

/// The staged bytes of that kind (an answer, or an input); anything else staged is dropped, so an
/// answer left by a host call that never returned never becomes the next call's input.
fn take_stage(answer: bool) -> Option<Vec<u8>> {
    let st = io();
    let staged = st.stage.take()?;
    if st.stage_answer == answer { Some(staged) } else { None }
}

impl Io {
    /// What `uee_io_flags`, `uee_io_ptr` and `uee_io_len` answer the host.
    fn set(&mut self, flags: i32, bytes: &[u8]) {
        self.flags = flags;
        self.ptr = if bytes.is_empty() { 0 } else { bytes.as_ptr() as u32 };
        self.len = bytes.len() as u32;
    }
}

/// Where the host reads this call's output (IO_OUTPUT) or error (IO_ERROR) under direct I/O: kept
/// here until the next call starts.
fn io_result(flags: i32, text: String) {
    let bytes = text.into_bytes();
    let st = io();
    st.set(flags, &bytes);
    // Moving the Vec keeps its heap buffer where `set` saw it.
    st.result = bytes;
}

fn store(bytes: &[u8]) -> u64 {
    unsafe {
        let offset = alloc(bytes.len() as u64);
        let mut i = 0;
        while i + 8 <= bytes.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            store_u64(offset + i as u64, u64::from_le_bytes(word));
            i += 8;
        }
        while i < bytes.len() {
            store_u8(offset + i as u64, bytes[i]);
            i += 1;
        }
        offset
    }
}

fn load(offset: u64) -> Vec<u8> {
    unsafe {
        let n = length(offset) as usize;
        let mut out = Vec::with_capacity(n);
        let mut i = 0;
        while i + 8 <= n {
            out.extend_from_slice(&load_u64(offset + i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            out.push(load_u8(offset + i as u64));
            i += 1;
        }
        out
    }
}

/// The event input as text (staged by the host under direct I/O, else read through the kernel).
pub fn input_string() -> String {
    if let Some(staged) = take_stage(false) {
        return String::from_utf8_lossy(&staged).into_owned();
    }
    unsafe {
        let n = input_length() as usize;
        let mut out = Vec::with_capacity(n);
        let mut i = 0;
        while i + 8 <= n {
            out.extend_from_slice(&input_load_u64(i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            out.push(input_load_u8(i as u64));
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A failure: a host error (`ok: false` answer) or one the plugin reports by returning `Err`.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub code: String,
    pub message: String,
}

impl Error {
    pub fn new(code: &str, message: &str) -> Error {
        Error { code: code.to_string(), message: message.to_string() }
    }
}

/// A host answer: its `value`, or the host's error.
pub type HostResult = Result<Value, Error>;

fn call(f: unsafe extern "C" fn(u64) -> u64, req: &Value) -> HostResult {
    let request = req.stringify();
    let answer = if io().on {
        // Direct I/O: the host reads the request where it is and stages its answer.
        drop(take_stage(true));
        io().set(IO_REQUEST, request.as_bytes());
        let offset = unsafe { f(0) };
        io().set(IO_NONE, &[]);
        match take_stage(true) {
            Some(staged) if offset == IO_STAGED => staged,
            _ => load(offset),
        }
    } else {
        load(unsafe { f(store(request.as_bytes())) })
    };
    let text = String::from_utf8_lossy(&answer).into_owned();
    let v = match parse(&text) {
        Some(v) => v,
        None => return Err(Error::new("HOST_RESPONSE_INVALID", "the host answered with invalid JSON")),
    };
    if v.get("ok").bool() {
        Ok(v.get("value").clone())
    } else {
        let e = v.get("error");
        Err(Error::new(e.get("code").str(), e.get("message").str()))
    }
}

/// Reads the latest version of an entity; `Null` when not visible.
pub fn read_entity(entity_id: &str) -> HostResult {
    call(ffi::read_entity, &Value::obj().set("entityId", entity_id))
}
/// Reads an entity version; `Null` when not visible.
pub fn read_entity_version(entity_id: &str, version: u32) -> HostResult {
    call(ffi::read_entity, &Value::obj().set("entityId", entity_id).set("version", version as f64))
}
/// Creates or updates an entity: `{ entityId?, entityTypeId, expectedVersion?, attributes, metadata?, eventType? }`.
pub fn write_entity(req: Value) -> HostResult {
    call(ffi::write_entity, &req)
}
/// Emits an event: `{ type, entityId?, entityTypeId?, payload? }`.
pub fn emit_event(req: Value) -> HostResult {
    call(ffi::emit_event, &req)
}
/// Queries a read model: `{ view, filter?, sort?, limit? }` → `{ items: [{ id, doc }] }`.
pub fn query_read_model(req: Value) -> HostResult {
    call(ffi::query_read_model, &req)
}
/// `{ op: "upsert", view, id, doc }` or `{ op: "delete", view, id }`.
pub fn update_read_model(req: Value) -> HostResult {
    call(ffi::update_read_model, &req)
}
/// `{ tenant, plugin }`.
pub fn get_tenant_config() -> HostResult {
    call(ffi::get_tenant_config, &Value::obj())
}
/// `{ model, input }` → the model's output.
pub fn call_model(req: Value) -> HostResult {
    call(ffi::call_model, &req)
}
/// `{ fireAt? | delayMs?, type, payload?, timerId? }` → `{ timerId }`.
pub fn schedule_timer(req: Value) -> HostResult {
    call(ffi::schedule_timer, &req)
}
/// Cancels a timer.
pub fn cancel_timer(timer_id: &str) -> HostResult {
    call(ffi::cancel_timer, &Value::obj().set("timerId", timer_id))
}
/// `{ workflow, input? }` → `{ eventId }`.
pub fn spawn_workflow(req: Value) -> HostResult {
    call(ffi::spawn_workflow, &req)
}
/// Writes a log line (level: debug | info | warn | error).
pub fn log(level: &str, message: &str, fields: Option<Value>) {
    let mut req = Value::obj().set("level", level).set("message", message);
    if let Some(f) = fields {
        req = req.set("fields", f);
    }
    let _ = call(ffi::log, &req);
}

// ---- handlers -------------------------------------------------------------------------------

/// A handler gets the whole input `{ event, entity?, settings, context }` and returns output or `None`.
pub type Handler = fn(&Value) -> Result<Option<Value>, Error>;

fn set_error(code: &str, message: &str) -> i32 {
    let text = Value::obj().set("code", code).set("message", message).stringify();
    if io().on {
        io_result(IO_ERROR, text);
    } else {
        unsafe { error_set(store(text.as_bytes())) };
    }
    1
}

/// Runs the handler declared for the input's event type (`"*"` handles every type without its own);
/// call it from the plugin's entry: `#[no_mangle] pub extern "C" fn handle() -> i32 { dispatch(&[…]) }`.
pub fn dispatch(handlers: &[(&str, Handler)]) -> i32 {
    // The previous call's output or error was read by the host after that call: freed only now.
    io_result(IO_NONE, String::new());
    std::panic::set_hook(Box::new(|info| {
        // Through the kernel even under direct I/O: the trap that follows ends the call there.
        let text = Value::obj().set("code", "PANIC").set("message", info.to_string().as_str()).stringify();
        unsafe { error_set(store(text.as_bytes())) };
    }));
    let input = match parse(&input_string()) {
        Some(v) => v,
        None => return set_error("INPUT_INVALID", "the input is not JSON"),
    };
    let ty = input.get("event").get("type").str().to_string();
    let found = handlers.iter().find(|(t, _)| *t == ty).or_else(|| handlers.iter().find(|(t, _)| *t == "*"));
    let handler = match found {
        Some((_, h)) => *h,
        None => return 0,
    };
    match handler(&input) {
        Ok(Some(out)) => {
            let text = out.stringify();
            if io().on {
                io_result(IO_OUTPUT, text);
            } else {
                let offset = store(text.as_bytes());
                unsafe { output_set(offset, text.len() as u64) };
            }
            0
        }
        Ok(None) => 0,
        Err(e) => set_error(&e.code, &e.message),
    }
}
