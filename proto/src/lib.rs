//! gRPC contracts of the fleet, compiled once for every service.

pub mod bot {
    tonic::include_proto!("starshop.bot.v1");
}

pub mod payments {
    tonic::include_proto!("starshop.payments.v1");
}

pub mod broadcast {
    tonic::include_proto!("starshop.broadcast.v1");
}

pub mod audience_list;
