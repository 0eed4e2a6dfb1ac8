-- A token's card and device are its provisioning's: the risk signals and the card's token
-- count reach tokens through provisionings' own (pan_hash, created_at) and (device_id,
-- created_at) indexes. Each index dropped here cost every push provisioning one more B-tree
-- insert, on a random page for the card's hash (about 6 % of the server's CPU per push,
-- measured with `provisio bench push`).
DROP INDEX tokens_pan_hash;
DROP INDEX tokens_device;
