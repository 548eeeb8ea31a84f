//! Public types, and the futures their methods return, are `Send` and `Sync`.

#![allow(dead_code)]

use pc_core::AckConsumer;
use pc_redis::*;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn types_are_send_and_sync() {
    send_sync::<RedisQueue<String>>();
    send_sync::<RedisQueue<u32, Binary>>();
    send_sync::<RedisQueueBuilder<String, Json>>();
    send_sync::<RedisProducer<String, Json>>();
    send_sync::<RedisConsumer<String, Json>>();
    send_sync::<RedisError>();
    send_sync::<RedisSendError<String>>();
    send_sync::<CodecError>();
    send_sync::<WhenFull>();
    send_sync::<LocalServer>();
}

fn futures_are_send(
    queue: &RedisQueue<String>,
    producer: &RedisProducer<String, Json>,
    consumer: &RedisConsumer<String, Json>,
) {
    send(&queue.producer());
    send(&queue.consumer("c"));
    send(&producer.send(String::new()));
    send(&consumer.recv_delivery());
}
