// The SeaweedFS build for tests and development (scripts/services/s3.sh install): this
// module only requires SeaweedFS at one exact version; go.sum pins every module's hash.
// The replace line is SeaweedFS's own (go install pkg@version refuses modules that have one).

module portal.local/seaweedfs-build

go 1.26.6

require github.com/seaweedfs/seaweedfs v0.0.0-20261109003541-7506e5f91cd6

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
